// Hot swap: a new generation replaces the old while threads call continuously, with zero failed
// calls and the old image unmapped; a drain that times out quarantines instead of unmapping.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "observability/metrics.h"
#include "plugin/host.h"
#include "unit/plugin/fixture_paths.h"

namespace agentd::plugin {
namespace {

using agentd::testing::fixture;
using namespace std::chrono_literals;

PluginSpec spec(const std::string& name) {
  PluginSpec s;
  s.path = fixture(name);
  return s;
}

bool mapped(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.find(path) != std::string::npos) return true;
  }
  return false;
}

std::string metricsText() {
  prometheus::TextSerializer s;
  return s.Serialize(metrics::registry().Collect());
}

TEST(Swap, UnderLoadZeroFailedCallsAndOldImageUnloaded) {
  PluginHost host({agentd::testing::tempDir("swap"), 5000ms});
  ASSERT_TRUE(host.apply({spec("good_cpp")}).isOk());
  std::string old_copy = host.current()->plugin("good")->library().copyPath();
  ASSERT_TRUE(mapped(old_copy));

  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0}, failed{0}, v1{0}, v2{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      CallContext ctx;
      while (!stop.load()) {
        ToolResult r = host.call("version", "{}", ctx);
        if (!r.ok) {
          failed++;
          continue;
        }
        ok++;
        (r.output == "v1" ? v1 : v2)++;
      }
    });
  }
  auto wait_for = [&](std::atomic<int64_t>& counter, int64_t n) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (counter.load() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
  };
  wait_for(v1, 1000);
  // Swap back and forth several times while the calls keep coming.
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(host.apply({spec("good_cpp_v2")}).isOk());
    wait_for(v2, v2.load() + 1000);
    ASSERT_TRUE(host.apply({spec("good_cpp")}).isOk());
    wait_for(v1, v1.load() + 1000);
  }
  ASSERT_TRUE(host.apply({spec("good_cpp_v2")}).isOk());
  int64_t v2_before = v2.load();
  wait_for(v2, v2_before + 1000);
  stop = true;
  for (auto& t : threads) t.join();

  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(ok.load(), 7000);
  EXPECT_GT(v2.load(), v2_before) << "new code answers after the swap";
  EXPECT_FALSE(mapped(old_copy)) << "old image still mapped";
  EXPECT_EQ(dlopen(old_copy.c_str(), RTLD_LAZY | RTLD_NOLOAD), nullptr);
  EXPECT_EQ(host.quarantinedCount(), 0u);
}

TEST(Swap, DrainTimeoutQuarantinesAndLaterReaps) {
  PluginHost host({agentd::testing::tempDir("quarantine"), 100ms});
  ASSERT_TRUE(host.apply({spec("sleeper")}).isOk());
  std::string copy = host.current()->plugin("sleeper")->library().copyPath();

  std::atomic<bool> started{false};
  ToolResult slow;
  std::thread caller([&] {
    CallContext ctx;
    ctx.on_progress = [&](double, double, std::string_view) { started = true; };
    slow = host.call("sleep", R"({"ms":1500})", ctx);
  });
  for (int i = 0; i < 5000 && !started; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(started);

  // Remove the plugin while the call runs: the drain times out, the image stays mapped.
  ASSERT_TRUE(host.apply({}).isOk());
  EXPECT_EQ(host.quarantinedCount(), 1u);
  EXPECT_TRUE(mapped(copy));
  EXPECT_NE(metricsText().find("agentd_plugin_generations_quarantined 1"), std::string::npos);
  EXPECT_EQ(host.call("sleep", R"({"ms":1})", CallContext{}).status, AGENTD_ENOTFOUND);

  caller.join();
  EXPECT_TRUE(slow.ok) << "the in-flight call completed on its quarantined image: " << slow.error;
  EXPECT_EQ(slow.output, "slept 1500 ms");

  EXPECT_EQ(host.reapQuarantined(), 0u);
  EXPECT_FALSE(mapped(copy));
  EXPECT_NE(metricsText().find("agentd_plugin_generations_quarantined 0"), std::string::npos);
}

TEST(Swap, ThreadLocalPinIsDetectedNotFatal) {
  PluginHost host({agentd::testing::tempDir("tls"), 1000ms});
  ASSERT_TRUE(host.apply({spec("thread_local_plugin")}).isOk());
  std::string copy = host.current()->plugin("thread_local_plugin")->library().copyPath();

  // A long-lived thread touches the plugin's thread_local: glibc defers the unload while it lives.
  std::atomic<bool> touched{false}, release{false};
  std::thread worker([&] {
    ToolResult r = host.call("touch", "{}", CallContext{});
    EXPECT_TRUE(r.ok) << r.error;
    touched = true;
    while (!release) std::this_thread::sleep_for(1ms);
  });
  for (int i = 0; i < 5000 && !touched; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(touched);
  std::string before = metricsText();

  ASSERT_TRUE(host.apply({}).isOk());
  EXPECT_TRUE(mapped(copy)) << "pinned by the thread_local destructor";
  std::string after = metricsText();
  EXPECT_NE(after.find("agentd_plugin_unload_incomplete_total{plugin=\"thread_local_plugin\"}"),
            std::string::npos);

  // Loading it again maps a new copy: the pinned image never shadows new code.
  ASSERT_TRUE(host.apply({spec("thread_local_plugin")}).isOk());
  EXPECT_NE(host.current()->plugin("thread_local_plugin")->library().copyPath(), copy);
  EXPECT_TRUE(host.call("touch", "{}", CallContext{}).ok);
  release = true;
  worker.join();
}

}  // namespace
}  // namespace agentd::plugin
