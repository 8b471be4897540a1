#include "lifecycle/recovery.h"

// <utility> before Asio: boost/asio/awaitable.hpp in Boost 1.74 relies on it.
#include <utility>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "observability/log.h"

namespace agentd {
namespace {

using S = AgentState;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Runs io on this thread until done() or the deadline; returns done().
bool runUntil(boost::asio::io_context& io, const std::function<bool()>& done,
              milliseconds deadline) {
  const auto end = Clock::now() + deadline;
  while (!done() && Clock::now() < end) {
    io.run_for(milliseconds(5));
    if (io.stopped()) {
      io.restart();
      std::this_thread::sleep_for(milliseconds(1));
    }
  }
  return done();
}

class RecoveryTest : public testing::Test {
 protected:
  void SetUp() override {
    saved_ = log::level();
    log::setLevel(log::Level::kWarn);
  }
  void TearDown() override { log::setLevel(saved_); }
  log::Level saved_ = log::Level::kInfo;
  boost::asio::io_context io_;
};
// Lowercase suite name so that `ctest -R lifecycle` selects these tests.
using lifecycle_recovery = RecoveryTest;

TEST_F(lifecycle_recovery, RetriesWithExponentialBackoffUntilInitSucceeds) {
  AgentLifecycle lc("rec1", BackoffPolicy{milliseconds(10), milliseconds(1000)});
  std::vector<Clock::time_point> calls;
  RecoverySupervisor sup(io_, lc, [&] {
    calls.push_back(Clock::now());
    EXPECT_EQ(lc.state(), S::kInitializing);
    return calls.size() < 3 ? Status::unavailable("not yet") : Status::ok();
  });
  std::vector<std::pair<S, S>> seen;
  std::mutex seen_mu;
  lc.addListener([&](S from, S to) {
    std::lock_guard<std::mutex> lock(seen_mu);
    seen.emplace_back(from, to);
  });

  const auto start = Clock::now();
  ASSERT_TRUE(lc.fail("boom").isOk());
  ASSERT_TRUE(runUntil(
      io_, [&] { return lc.state() == S::kReady; }, milliseconds(5000)))
      << stateName(lc.state());
  const auto elapsed = Clock::now() - start;

  ASSERT_EQ(calls.size(), 3u);
  EXPECT_GE(elapsed, milliseconds(10 + 20 + 40));
  EXPECT_GE(calls[0] - start, milliseconds(10));
  EXPECT_GE(calls[1] - calls[0], milliseconds(20));
  EXPECT_GE(calls[2] - calls[1], milliseconds(40));
  EXPECT_EQ(lc.consecutiveFailures(), 0u);
  EXPECT_NE(lc.lastError().find("not yet"), std::string::npos) << lc.lastError();

  std::lock_guard<std::mutex> lock(seen_mu);
  std::vector<std::pair<S, S>> want = {
      {S::kInitializing, S::kFailed}, {S::kFailed, S::kInitializing},
      {S::kInitializing, S::kFailed}, {S::kFailed, S::kInitializing},
      {S::kInitializing, S::kFailed}, {S::kFailed, S::kInitializing},
      {S::kInitializing, S::kReady},
  };
  EXPECT_EQ(seen, want);
}

TEST_F(lifecycle_recovery, FailureReportedOnAnotherThread) {
  AgentLifecycle lc("rec2", BackoffPolicy{milliseconds(10), milliseconds(1000)});
  std::atomic<int> calls{0};
  RecoverySupervisor sup(io_, lc, [&] {
    calls.fetch_add(1);
    return Status::ok();
  });
  auto guard = boost::asio::make_work_guard(io_);
  std::thread runner([&] { io_.run_for(std::chrono::seconds(10)); });

  ASSERT_TRUE(lc.transition(S::kReady).isOk());
  ASSERT_TRUE(lc.transition(S::kRunning).isOk());
  ASSERT_TRUE(lc.fail("crash").isOk());
  const auto end = Clock::now() + milliseconds(5000);
  while (lc.state() != S::kReady && Clock::now() < end) {
    std::this_thread::sleep_for(milliseconds(2));
  }
  guard.reset();
  io_.stop();
  runner.join();
  EXPECT_EQ(lc.state(), S::kReady);
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(lifecycle_recovery, StartsWhenConstructedOnAFailedAgent) {
  AgentLifecycle lc("rec3", BackoffPolicy{milliseconds(10), milliseconds(1000)});
  ASSERT_TRUE(lc.fail("early").isOk());
  int calls = 0;
  RecoverySupervisor sup(io_, lc, [&] {
    ++calls;
    return Status::ok();
  });
  EXPECT_TRUE(runUntil(
      io_, [&] { return lc.state() == S::kReady; }, milliseconds(5000)));
  EXPECT_EQ(calls, 1);
}

TEST_F(lifecycle_recovery, StopCancelsThePendingAttempt) {
  AgentLifecycle lc("rec4", BackoffPolicy{milliseconds(10000), milliseconds(10000)});
  int calls = 0;
  RecoverySupervisor sup(io_, lc, [&] {
    ++calls;
    return Status::ok();
  });
  ASSERT_TRUE(lc.fail("boom").isOk());
  // Let the 10 s timer be armed, then stop: io_ must run out of work at once.
  io_.run_for(milliseconds(20));
  sup.stop();
  const auto start = Clock::now();
  io_.run_for(milliseconds(5000));
  EXPECT_LT(Clock::now() - start, milliseconds(2000)) << "the timer was not cancelled";
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(lc.state(), S::kFailed);

  // A later failure schedules nothing either.
  ASSERT_TRUE(lc.recover().isOk());
  ASSERT_TRUE(lc.fail("again").isOk());
  io_.restart();
  io_.run_for(milliseconds(100));
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(lc.state(), S::kFailed);
}

TEST_F(lifecycle_recovery, StopDuringInitEndsTheRetries) {
  AgentLifecycle lc("rec5", BackoffPolicy{milliseconds(10), milliseconds(10)});
  int calls = 0;
  RecoverySupervisor sup(io_, lc, [&]() -> Status {
    ++calls;
    sup.stop();
    return Status::unavailable("still broken");
  });
  ASSERT_TRUE(lc.fail("boom").isOk());
  runUntil(
      io_, [] { return false; }, milliseconds(200));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(lc.state(), S::kFailed);
  EXPECT_EQ(lc.consecutiveFailures(), 2u);
}

TEST_F(lifecycle_recovery, DestructionCancelsAndDetaches) {
  AgentLifecycle lc("rec6", BackoffPolicy{milliseconds(30), milliseconds(30)});
  int calls = 0;
  {
    RecoverySupervisor sup(io_, lc, [&] {
      ++calls;
      return Status::ok();
    });
    ASSERT_TRUE(lc.fail("boom").isOk());
    io_.run_for(milliseconds(5));
  }
  runUntil(
      io_, [] { return false; }, milliseconds(150));
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(lc.state(), S::kFailed);
  // The listener left behind in lc must be inert.
  ASSERT_TRUE(lc.recover().isOk());
  ASSERT_TRUE(lc.fail("again").isOk());
  runUntil(
      io_, [] { return false; }, milliseconds(100));
  EXPECT_EQ(calls, 0);
}

TEST_F(lifecycle_recovery, NoAttemptWhenAgentMovedOnMeanwhile) {
  AgentLifecycle lc("rec7", BackoffPolicy{milliseconds(20), milliseconds(20)});
  int calls = 0;
  RecoverySupervisor sup(io_, lc, [&] {
    ++calls;
    return Status::ok();
  });
  ASSERT_TRUE(lc.fail("boom").isOk());
  ASSERT_TRUE(lc.transition(S::kDraining, "shutdown").isOk());
  runUntil(
      io_, [] { return false; }, milliseconds(150));
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(lc.state(), S::kDraining);
}

}  // namespace
}  // namespace agentd
