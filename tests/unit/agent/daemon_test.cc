// The daemon's reload transaction end to end, in-process: a config edit on disk swaps a plugin
// library while threads call it (zero failed calls), touched agents pass through Reloading while
// untouched ones are left alone, agents are added and removed, a bad edit changes nothing.
#include "agent/daemon.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>
#include <boost/asio/io_context.hpp>
#include <utility>

#include <atomic>
#include <filesystem>
#include <thread>

#include "observability/metrics.h"
#include "support/subprocess.h"
#include "support/toml.h"

namespace agentd {
namespace {

namespace fs = std::filesystem;
using agentd::testing::freshDir;
using agentd::testing::pluginToml;
using agentd::testing::writeFile;
using namespace std::chrono_literals;

const std::string kFixtures = AGENTD_FIXTURE_DIR;

std::string config(const std::string& good_so, const std::string& agents) {
  return "[reload]\ndebounce_ms = 20\npoll_interval_seconds = 0\n"
         "[plugins]\ndrain_timeout_ms = 5000\n" +
         pluginToml("good", good_so) + pluginToml("sleeper", kFixtures + "/sleeper.so") + agents;
}

const std::string kAgents =
    "[agents.uses_good]\ntools = [\"version\"]\n[agents.uses_sleeper]\ntools = [\"sleep\"]\n";

void renameSave(const std::string& path, const std::string& text) {
  writeFile(path + ".tmp", text);
  fs::rename(path + ".tmp", path);
}

double transitions(const std::string& agent, const std::string& from, const std::string& to) {
  prometheus::TextSerializer s;
  std::string text = s.Serialize(metrics::registry().Collect());
  std::string series = "agentd_agent_state_transitions_total{agent=\"" + agent + "\",from=\"" +
                       from + "\",to=\"" + to + "\"} ";
  size_t at = text.find(series);
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size()));
}

class DaemonTest : public ::testing::Test {
 protected:
  void start(const std::string& text) {
    dir_ = freshDir("daemon");
    path_ = dir_ + "/agentd.toml";
    writeFile(path_, text);
    auto cfg = config::load(path_);
    ASSERT_TRUE(cfg.ok()) << cfg.status().message();
    daemon_ = std::make_unique<Daemon>(*cfg, config::Overrides{}, io_, dir_ + "/state");
    daemon_->start();
    io_thread_ = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io_);
      io_.run_for(60s);
    });
  }
  void TearDown() override {
    if (daemon_) daemon_->shutdown();
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
    daemon_.reset();
  }
  bool waitGeneration(uint64_t g, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (daemon_->snapshot()->generation >= g) return true;
      std::this_thread::sleep_for(2ms);
    }
    return false;
  }

  boost::asio::io_context io_;
  std::thread io_thread_;
  std::string dir_, path_;
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(DaemonTest, ConfigEditSwapsPluginUnderLoadWithZeroFailedCalls) {
  start(config(kFixtures + "/good_cpp.so", kAgents));
  ASSERT_EQ(daemon_->snapshot()->generation, 1u);
  EXPECT_EQ(daemon_->agentStates().at("uses_good"), AgentState::kReady);

  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0}, failed{0}, v2{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < 8; ++i) {
    callers.emplace_back([&] {
      while (!stop) {
        auto r = daemon_->plugins().call("version", "{}", {});
        if (!r.ok) {
          failed++;
        } else {
          ok++;
          if (r.output == "v2") v2++;
        }
      }
    });
  }
  std::this_thread::sleep_for(100ms);
  double good_reloading = transitions("uses_good", "ready", "reloading");
  double sleeper_reloading = transitions("uses_sleeper", "ready", "reloading");

  renameSave(path_, config(kFixtures + "/good_cpp_v2.so", kAgents));
  ASSERT_TRUE(waitGeneration(2)) << "the edit was not applied";
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (v2 < 1000 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  stop = true;
  for (auto& t : callers) t.join();

  // The snapshot is published before the old generation drains; the touched agent returns from
  // Reloading after the drain.
  deadline = std::chrono::steady_clock::now() + 10s;
  while (daemon_->agentStates().at("uses_good") != AgentState::kReady &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GE(v2.load(), 1000);
  EXPECT_GT(ok.load(), v2.load()) << "calls before the swap answered v1";
  // Only the agent whose tool moved to a new generation passed through Reloading.
  EXPECT_EQ(transitions("uses_good", "ready", "reloading") - good_reloading, 1);
  EXPECT_EQ(transitions("uses_good", "reloading", "ready"), good_reloading + 1);
  EXPECT_EQ(transitions("uses_sleeper", "ready", "reloading"), sleeper_reloading);
  EXPECT_EQ(daemon_->agentStates().at("uses_good"), AgentState::kReady);
  EXPECT_EQ(daemon_->plugins().quarantinedCount(), 0u);
}

TEST_F(DaemonTest, InFlightCallFinishesOnTheOldSnapshotWhileNewCallsSeeTheNew) {
  start(config(kFixtures + "/good_cpp.so", kAgents));
  auto before = daemon_->snapshot();
  std::atomic<bool> started{false};
  plugin::ToolResult slow;
  std::thread t([&] {
    plugin::CallContext ctx;
    ctx.on_progress = [&](double, double, std::string_view) { started = true; };
    slow = daemon_->plugins().call("sleep", R"({"ms":400})", ctx);
  });
  for (int i = 0; i < 5000 && !started; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(started);
  // Replace the sleeper's library by editing its path to a copy of the same file.
  fs::copy_file(kFixtures + "/sleeper.so", dir_ + "/sleeper_copy.so");
  std::string text = config(kFixtures + "/good_cpp.so", kAgents);
  text.replace(text.find(kFixtures + "/sleeper.so"), (kFixtures + "/sleeper.so").size(),
               dir_ + "/sleeper_copy.so");
  renameSave(path_, text);
  ASSERT_TRUE(waitGeneration(2));
  EXPECT_NE(daemon_->snapshot()->plugins, before->plugins);
  EXPECT_TRUE(daemon_->plugins().call("sleep", R"({"ms":1})", {}).ok);
  t.join();
  EXPECT_TRUE(slow.ok) << slow.error;
  EXPECT_EQ(slow.output, "slept 400 ms");
  // The old snapshot still describes what it described.
  EXPECT_EQ(before->config->plugins.entries.at("sleeper").path, kFixtures + "/sleeper.so");
}

TEST_F(DaemonTest, AgentsAddedAndRemovedAndBadEditsChangeNothing) {
  start(config(kFixtures + "/good_cpp.so", kAgents));
  renameSave(path_, config(kFixtures + "/good_cpp.so",
                           "[agents.uses_good]\ntools = [\"version\"]\n"
                           "[agents.newcomer]\ntools = [\"echo\"]\n"));
  ASSERT_TRUE(waitGeneration(2));
  auto states = daemon_->agentStates();
  EXPECT_EQ(states.count("uses_sleeper"), 0u);
  EXPECT_EQ(states.at("newcomer"), AgentState::kReady);
  EXPECT_EQ(transitions("uses_sleeper", "draining", "stopped"), -1) << "series removed with agent";

  // A tool nobody offers: rejected, nothing changes.
  auto before = daemon_->snapshot();
  auto outcome = [&] {
    renameSave(path_, config(kFixtures + "/good_cpp.so",
                             "[agents.uses_good]\ntools = [\"version\", \"teleport\"]\n"));
    return daemon_->reloader().reloadNow("test");
  }();
  EXPECT_EQ(outcome.result, config::ReloadResult::kFailure);
  EXPECT_NE(outcome.message.find("agents.uses_good.tools[1]: no loaded plugin offers tool "
                                 "'teleport'"),
            std::string::npos)
      << outcome.message;
  EXPECT_EQ(daemon_->snapshot(), before);
  EXPECT_EQ(daemon_->agentStates().size(), 2u);

  // A plugin that fails to load: rejected, the live generation keeps serving.
  renameSave(path_, config(kFixtures + "/wrong_major.so", kAgents));
  outcome = daemon_->reloader().reloadNow("test");
  EXPECT_EQ(outcome.result, config::ReloadResult::kFailure);
  EXPECT_NE(outcome.message.find("plugins.good.path"), std::string::npos) << outcome.message;
  EXPECT_TRUE(daemon_->plugins().call("version", "{}", {}).ok);
  EXPECT_EQ(daemon_->snapshot(), before);
}

}  // namespace
}  // namespace agentd
