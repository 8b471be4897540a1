// The reload queue against real files and inotify: editors' rename-saves, in-place writes, the
// exact Kubernetes ConfigMap swap, a directory deleted and recreated, the poll fallback, bursts,
// invalid edits and restart-only changes.
#include "config/reloader.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "observability/metrics.h"
#include "support/subprocess.h"

namespace agentd::config {
namespace {

namespace fs = std::filesystem;
using agentd::testing::freshDir;
using agentd::testing::writeFile;
using namespace std::chrono_literals;

std::string configWithSteps(int steps, int debounce_ms = 50, bool watch = true, int poll = 0) {
  return "[reload]\nwatch = " + std::string(watch ? "true" : "false") +
         "\ndebounce_ms = " + std::to_string(debounce_ms) +
         "\npoll_interval_seconds = " + std::to_string(poll) +
         "\n[agents.a]\nmax_steps = " + std::to_string(steps) + "\n";
}

double metric(const std::string& series) {
  prometheus::TextSerializer s;
  std::string text = s.Serialize(metrics::registry().Collect());
  size_t at = text.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
}

// Runs a Reloader over a config file and records what it applies.
class Harness {
 public:
  explicit Harness(const std::string& path) {
    auto cfg = load(path);
    EXPECT_TRUE(cfg.ok()) << cfg.status().message();
    reloader_ = std::make_unique<Reloader>(
        *cfg, Overrides{},
        [this](const std::shared_ptr<const Config>& next, const std::vector<std::string>&) {
          std::lock_guard<std::mutex> lock(mu_);
          if (fail_apply_) return Status::unavailable("apply refused");
          applied_.push_back(next->agents.count("a") ? next->agents.at("a").max_steps : -1);
          return Status::ok();
        });
    reloader_->setOutcomeListener([this](const ReloadOutcome& o) {
      std::lock_guard<std::mutex> lock(mu_);
      outcomes_.push_back(o);
      cv_.notify_all();
    });
    reloader_->start();
  }
  ~Harness() { reloader_->stop(); }

  // Waits until n outcomes were seen (bounded).
  bool waitOutcomes(size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return outcomes_.size() >= n; });
  }
  // Waits until some outcome has the given result (bounded). The config in force is published
  // before its outcome is reported, so waitSteps alone does not order the two.
  bool waitResult(ReloadResult r, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const auto& o : outcomes_)
        if (o.result == r) return true;
      return false;
    });
  }
  // Waits until the config in force has max_steps == steps (bounded).
  bool waitSteps(int steps, std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto cur = reloader_->current();
      if (cur->agents.count("a") && cur->agents.at("a").max_steps == steps) return true;
      std::this_thread::sleep_for(2ms);
    }
    return false;
  }
  std::vector<ReloadOutcome> outcomes() {
    std::lock_guard<std::mutex> lock(mu_);
    return outcomes_;
  }
  std::vector<int> applied() {
    std::lock_guard<std::mutex> lock(mu_);
    return applied_;
  }
  void failApply(bool f) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_apply_ = f;
  }
  Reloader& reloader() { return *reloader_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ReloadOutcome> outcomes_;
  std::vector<int> applied_;
  bool fail_apply_ = false;
  std::unique_ptr<Reloader> reloader_;
};

// Writes a file the way editors do: a temporary file renamed over the target.
void renameSave(const std::string& path, const std::string& text) {
  std::string tmp = path + ".swp";
  writeFile(tmp, text);
  fs::rename(tmp, path);
}

TEST(Reloader, RenameSaveIsApplied) {
  std::string dir = freshDir("reload");
  std::string f = dir + "/agentd.toml";
  writeFile(f, configWithSteps(1));
  Harness h(f);
  renameSave(f, configWithSteps(2));
  ASSERT_TRUE(h.waitSteps(2)) << "rename-save not seen";
  ASSERT_TRUE(h.waitOutcomes(1));
  EXPECT_EQ(h.outcomes().back().result, ReloadResult::kSuccess);
  EXPECT_EQ(h.outcomes().back().changed, std::vector<std::string>{"agents.a.max_steps"});
  // A second rename-save: the directory watch survives the replaced inode.
  renameSave(f, configWithSteps(3));
  ASSERT_TRUE(h.waitSteps(3));
  EXPECT_EQ(h.applied(), (std::vector<int>{2, 3}));
}

TEST(Reloader, InPlaceWritePartialThenComplete) {
  std::string dir = freshDir("reload");
  std::string f = dir + "/agentd.toml";
  writeFile(f, configWithSteps(1));
  Harness h(f);
  std::string full = configWithSteps(7);
  {
    // A writer that closes after half the file, then rewrites it whole.
    std::ofstream(f, std::ios::trunc) << full.substr(0, full.size() / 2 - 3) << "[agents";
  }
  std::this_thread::sleep_for(150ms);
  { std::ofstream(f, std::ios::trunc) << full; }
  ASSERT_TRUE(h.waitSteps(7));
  ASSERT_TRUE(h.waitResult(ReloadResult::kSuccess));
  // The partial file was rejected, never applied.
  EXPECT_EQ(h.applied(), std::vector<int>{7});
}

TEST(Reloader, FileAddedToAnIncludeDirectoryIsSeen) {
  std::string dir = freshDir("include");
  std::string f = dir + "/agentd.toml";
  fs::create_directories(dir + "/conf.d");
  writeFile(f, "include = [\"conf.d/*.toml\"]\n" + configWithSteps(1));
  Harness h(f);
  writeFile(dir + "/conf.d/50-more.tmp", "[agents.a]\nmax_steps = 8\n");
  fs::rename(dir + "/conf.d/50-more.tmp", dir + "/conf.d/50-more.toml");
  ASSERT_TRUE(h.waitSteps(8)) << "a new include file was not seen";
}

TEST(Reloader, KubernetesConfigMapSwap) {
  // The kubelet's AtomicWriter layout: ..<timestamp>/ holds the files, ..data -> ..<timestamp>,
  // agentd.toml -> ..data/agentd.toml. An update writes a new timestamped directory, points
  // ..data_tmp at it, renames ..data_tmp over ..data and removes the old directory.
  std::string dir = freshDir("configmap");
  writeFile(dir + "/..2026_11_22_10_00_00.000000001/agentd.toml", configWithSteps(1));
  fs::create_directory_symlink("..2026_11_22_10_00_00.000000001", dir + "/..data");
  fs::create_symlink("..data/agentd.toml", dir + "/agentd.toml");
  Harness h(dir + "/agentd.toml");

  writeFile(dir + "/..2026_11_22_10_01_00.000000002/agentd.toml", configWithSteps(9));
  fs::create_directory_symlink("..2026_11_22_10_01_00.000000002", dir + "/..data_tmp");
  fs::rename(dir + "/..data_tmp", dir + "/..data");
  fs::remove_all(dir + "/..2026_11_22_10_00_00.000000001");
  ASSERT_TRUE(h.waitSteps(9)) << "ConfigMap update not seen";
  EXPECT_EQ(h.applied(), std::vector<int>{9});
}

TEST(Reloader, DirectoryDeletedAndRecreated) {
  std::string base = freshDir("recreate");
  std::string dir = base + "/etc";
  std::string f = dir + "/agentd.toml";
  writeFile(f, configWithSteps(1));
  Harness h(f);
  fs::remove_all(dir);
  std::this_thread::sleep_for(200ms);
  writeFile(f, configWithSteps(4));
  ASSERT_TRUE(h.waitSteps(4)) << "recreated directory not watched again";
  // And later edits are still seen.
  renameSave(f, configWithSteps(5));
  ASSERT_TRUE(h.waitSteps(5));
}

TEST(Reloader, PollFallbackWithWatcherDisabled) {
  std::string dir = freshDir("poll");
  std::string f = dir + "/agentd.toml";
  writeFile(f, configWithSteps(1, 50, /*watch=*/false, /*poll=*/1));
  Harness h(f);
  renameSave(f, configWithSteps(6, 50, false, 1));
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(h.waitSteps(6, 5s)) << "the poll never picked the change up";
  EXPECT_GT(std::chrono::steady_clock::now() - start, 100ms) << "no watcher: only the poll";
  // Polls that find nothing are not reload attempts: neither reported nor counted.
  double noops = metric("agentd_config_reloads_total{result=\"noop\"}");
  std::this_thread::sleep_for(1200ms);
  EXPECT_EQ(h.outcomes().size(), 1u);
  EXPECT_EQ(metric("agentd_config_reloads_total{result=\"noop\"}"), noops);
}

TEST(Reloader, BurstOfFiftyEventsGivesOneReload) {
  std::string dir = freshDir("burst");
  std::string f = dir + "/agentd.toml";
  writeFile(f, configWithSteps(1, /*debounce_ms=*/100));
  Harness h(f);
  for (int i = 0; i < 50; ++i) renameSave(f, configWithSteps(100 + i, 100));
  ASSERT_TRUE(h.waitSteps(149));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(h.outcomes().size(), 1u);
  EXPECT_EQ(h.applied(), std::vector<int>{149});
}

TEST(Reloader, InvalidEditsKeepTheOldConfigAndAreCounted) {
  std::string dir = freshDir("invalid");
  std::string f = dir + "/agentd.toml";
  writeFile(f, configWithSteps(1));
  Harness h(f);
  double failures = metric("agentd_config_reloads_total{result=\"failure\"}");
  const std::vector<std::string> bad = {
      "[agents.a\n",                        // syntax
      "[agents.a]\nmax_steps = \"ten\"\n",  // type
      "[agents.a]\nmax_steps = 0\n",        // range
      "[agents.a]\nmax_stepz = 3\n",        // unknown key
      "[agents.a]\nmodel = \"ghost\"\n",    // dangling reference
      "[model_providers.p]\ntype = \"openai\"\napi_key = \"${AGENTD_NOT_SET_ANYWHERE}\"\n",
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    renameSave(f, bad[i]);
    ASSERT_TRUE(h.waitOutcomes(i + 1)) << i;
    auto o = h.outcomes().back();
    EXPECT_EQ(o.result, ReloadResult::kFailure) << bad[i];
    EXPECT_NE(o.message.find(f + ":"), std::string::npos) << o.message;
    EXPECT_EQ(h.reloader().current()->agents.at("a").max_steps, 1);
  }
  EXPECT_EQ(metric("agentd_config_reloads_total{result=\"failure\"}") - failures, bad.size());
  EXPECT_EQ(metric("agentd_config_last_reload_successful"), 0);

  // apply() refusing is a failure too, and nothing changes.
  h.failApply(true);
  renameSave(f, configWithSteps(2));
  ASSERT_TRUE(h.waitOutcomes(bad.size() + 1));
  EXPECT_EQ(h.outcomes().back().result, ReloadResult::kFailure);
  EXPECT_EQ(h.outcomes().back().message, "apply refused");
  EXPECT_EQ(h.reloader().current()->agents.at("a").max_steps, 1);

  h.failApply(false);
  renameSave(f, configWithSteps(3));
  ASSERT_TRUE(h.waitSteps(3));
  EXPECT_EQ(metric("agentd_config_last_reload_successful"), 1);
  EXPECT_GT(metric("agentd_config_last_reload_success_timestamp_seconds"), 1.7e9);
  EXPECT_EQ(metric("agentd_config_info{sha256=\"" + h.reloader().current()->sha256 + "\"}"), 1);
}

TEST(Reloader, RestartOnlyChangeIsRejectedWithItsReason) {
  std::string dir = freshDir("restart");
  std::string f = dir + "/agentd.toml";
  writeFile(f, configWithSteps(1) + "[metrics]\nlisten = \"127.0.0.1:9999\"\n");
  Harness h(f);
  writeFile(f, configWithSteps(2) + "[metrics]\nlisten = \"127.0.0.1:9998\"\n");
  ReloadOutcome o = h.reloader().reloadNow("test");
  EXPECT_EQ(o.result, ReloadResult::kRestartRequired);
  EXPECT_NE(o.message.find("metrics.listen requires a restart"), std::string::npos) << o.message;
  EXPECT_EQ(h.reloader().current()->agents.at("a").max_steps, 1);
}

TEST(Reloader, UnchangedFileIsANoopAndReloadNowReturnsTheOutcome) {
  std::string dir = freshDir("noop");
  std::string f = dir + "/agentd.toml";
  writeFile(f, configWithSteps(1));
  Harness h(f);
  double noops = metric("agentd_config_reloads_total{result=\"noop\"}");
  ReloadOutcome o = h.reloader().reloadNow("admin");
  EXPECT_EQ(o.result, ReloadResult::kNoop);
  EXPECT_EQ(o.trigger, "admin");
  EXPECT_EQ(metric("agentd_config_reloads_total{result=\"noop\"}") - noops, 1);
  // Comments only: new bytes, same effective configuration.
  writeFile(f, "# a comment\n" + configWithSteps(1));
  o = h.reloader().reloadNow("admin");
  EXPECT_EQ(o.result, ReloadResult::kNoop);
  EXPECT_TRUE(h.applied().empty());
}

}  // namespace
}  // namespace agentd::config
