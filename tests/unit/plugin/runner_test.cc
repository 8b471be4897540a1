// ToolRunner: calls past their timeout become tool errors; cooperative plugins see cancellation.
#include "plugin/runner.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <future>
#include <sstream>
#include <thread>

#include "observability/metrics.h"
#include "plugin/host.h"
#include "unit/plugin/fixture_paths.h"

namespace agentd::plugin {
namespace {

using agentd::testing::fixture;
using namespace std::chrono_literals;

class RunnerTest : public ::testing::Test {
 protected:
  RunnerTest() : host_({agentd::testing::tempDir("runner"), 5000ms}), runner_(host_, {2, 4}) {
    PluginSpec good, sleeper;
    good.path = fixture("good_cpp");
    sleeper.path = fixture("sleeper");
    EXPECT_TRUE(host_.apply({good, sleeper}).isOk());
  }
  PluginHost host_;
  ToolRunner runner_;
};

TEST_F(RunnerTest, ReturnsResultWithinTimeout) {
  ToolResult r = runner_.run("echo", R"({"text":"x"})", {}, 5000ms);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.output, "x");
}

TEST_F(RunnerTest, CallsAreCountedByToolAndResult) {
  auto value = [](const std::string& series) {
    prometheus::TextSerializer s;
    std::string text = s.Serialize(metrics::registry().Collect());
    size_t at = text.find("\n" + series + " ");
    return at == std::string::npos ? 0.0 : std::stod(text.substr(at + series.size() + 2));
  };
  const std::string ok = R"(agentd_tool_calls_total{result="ok",tool="noop"})";
  const std::string failed = R"(agentd_tool_calls_total{result="error",tool="fail"})";
  double ok0 = value(ok), failed0 = value(failed);
  EXPECT_TRUE(runner_.run("noop", "{}", {}, 5000ms).ok);
  EXPECT_TRUE(runner_.run("noop", "{}", {}, 5000ms).ok);
  EXPECT_FALSE(runner_.run("fail", "{}", {}, 5000ms).ok);
  EXPECT_EQ(value(ok) - ok0, 2);
  EXPECT_EQ(value(failed) - failed0, 1);
  EXPECT_GE(value(R"(agentd_tool_call_duration_seconds_count{tool="noop"})"), 2);
}

std::string currentThread() {
  std::ostringstream id;
  id << std::this_thread::get_id();
  return id.str();
}

// Runs tool through runAsync (or runPooled, when pooled) and returns the result once done was
// called.
ToolResult runAsyncAndWait(ToolRunner& runner, const std::string& tool, bool pooled = false) {
  auto done = std::make_shared<std::promise<ToolResult>>();  // outlives a give-up below
  auto cb = [done](ToolResult r) { done->set_value(std::move(r)); };
  if (pooled) {
    runner.runPooled(tool, "{}", {}, 5000ms, cb);
  } else {
    runner.runAsync(tool, "{}", {}, 5000ms, cb);
  }
  auto f = done->get_future();
  if (f.wait_for(10s) != std::future_status::ready) {
    ADD_FAILURE() << tool << ": no result within 10 s";
    return ToolResult{};
  }
  return f.get();
}

TEST_F(RunnerTest, InlineToolsRunOnTheCallingThreadOthersOnThePool) {
  // The plugin reads its own thread id, so this holds for the real call, not a host shortcut.
  ToolResult in = runAsyncAndWait(runner_, "thread_inline");
  ASSERT_TRUE(in.ok) << in.error;
  EXPECT_EQ(in.output, currentThread());
  ToolResult pooled = runAsyncAndWait(runner_, "thread");
  ASSERT_TRUE(pooled.ok) << pooled.error;
  EXPECT_NE(pooled.output, currentThread());
  EXPECT_TRUE(host_.runsInline("noop"));
  EXPECT_FALSE(host_.runsInline("wait_cancel"));
  EXPECT_FALSE(host_.runsInline("sleep"));  // declared without flags
  EXPECT_FALSE(host_.runsInline("no_such_tool"));
}

TEST_F(RunnerTest, RunPooledAndRunInlineRunWhereTheyAreAskedTo) {
  // The loop asks runsInline() once and plans the call's timeout around the answer; the runner
  // must not ask again and run it elsewhere.
  ASSERT_TRUE(host_.runsInline("thread_inline"));
  ToolResult pooled = runAsyncAndWait(runner_, "thread_inline", true);
  ASSERT_TRUE(pooled.ok) << pooled.error;
  EXPECT_NE(pooled.output, currentThread());
  ToolResult in = runner_.runInline("thread_inline", "{}", {}, 5000ms);
  ASSERT_TRUE(in.ok) << in.error;
  EXPECT_EQ(in.output, currentThread());
}

TEST_F(RunnerTest, InlineToolOverItsBudgetIsDemotedToThePool) {
  ASSERT_TRUE(host_.runsInline("slow_inline"));
  ToolResult first = runAsyncAndWait(runner_, "slow_inline");  // 30 ms > the 5 ms budget
  ASSERT_TRUE(first.ok) << first.error;
  EXPECT_EQ(first.output, currentThread());
  EXPECT_FALSE(host_.runsInline("slow_inline"));
  ToolResult second = runAsyncAndWait(runner_, "slow_inline");
  ASSERT_TRUE(second.ok) << second.error;
  EXPECT_NE(second.output, currentThread());
  EXPECT_TRUE(host_.runsInline("thread_inline"));  // only the tool that overran
}

TEST_F(RunnerTest, UncooperativePluginTimesOutAsToolError) {
  auto start = std::chrono::steady_clock::now();
  ToolResult r = runner_.run("sleep", R"({"ms":800})", {}, 50ms);
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.status, AGENTD_ETIMEDOUT);
  EXPECT_NE(r.error.find("timed out after 50 ms"), std::string::npos) << r.error;
  EXPECT_LT(waited, 700ms) << "the caller must not wait for the plugin";
  // The daemon keeps serving while the stuck call finishes in the background.
  EXPECT_TRUE(runner_.run("echo", R"({"text":"y"})", {}, 5000ms).ok);
}

TEST_F(RunnerTest, CooperativePluginSeesCancellation) {
  std::promise<ToolResult> done;
  runner_.runAsync("wait_cancel", "{}", {}, 30ms, [&](ToolResult r) { done.set_value(r); });
  auto fut = done.get_future();
  ASSERT_EQ(fut.wait_for(10s), std::future_status::ready);
  ToolResult r = fut.get();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.status, AGENTD_ETIMEDOUT) << "the deadline, not a stop, ended it";
  EXPECT_NE(r.error.find("timed out after 30 ms"), std::string::npos) << r.error;

  auto cancel = std::make_shared<CancelState>();
  CallContext ctx;
  ctx.cancel = cancel;
  std::thread stopper([&] {
    std::this_thread::sleep_for(20ms);
    cancel->cancel();
  });
  r = runner_.run("wait_cancel", "{}", ctx, 10000ms);
  stopper.join();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.status, AGENTD_ECANCELED);
  EXPECT_EQ(r.error, "cancelled");

  // A task-level stop reaches a call through its parent.
  auto task = std::make_shared<CancelState>();
  CallContext child;
  child.cancel = std::make_shared<CancelState>(task);
  std::promise<ToolResult> stopped;
  runner_.runAsync("wait_cancel", "{}", child, 10000ms,
                   [&](ToolResult x) { stopped.set_value(x); });
  std::this_thread::sleep_for(20ms);
  task->cancel();
  auto f2 = stopped.get_future();
  ASSERT_EQ(f2.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f2.get().status, AGENTD_ECANCELED);
}

TEST_F(RunnerTest, FullQueueIsAnErrorNotABlock) {
  // 2 threads + queue of 4 busy with slow calls; the next submission is refused.
  std::atomic<int> finished{0};
  for (int i = 0; i < 6; ++i) {
    runner_.runAsync("sleep", R"({"ms":300})", {}, 5000ms, [&](ToolResult) { finished++; });
  }
  ToolResult r = runner_.run("echo", R"({"text":"x"})", {}, 1000ms);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("pool is full"), std::string::npos) << r.error;
  for (int i = 0; i < 5000 && finished < 6; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(finished.load(), 6);
}

}  // namespace
}  // namespace agentd::plugin
