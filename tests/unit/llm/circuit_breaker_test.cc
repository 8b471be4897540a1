// CircuitBreaker: closed -> open after consecutive failures -> half-open after the open
// duration -> closed on a probe success or open again on a probe failure.
#include "llm/circuit_breaker.h"

#include <gtest/gtest.h>

#include <vector>

namespace agentd::llm {
namespace {

using namespace std::chrono_literals;
using Clock = CircuitBreaker::Clock;

TEST(LlmCircuitBreaker, FullCycleWithTransitionsReported) {
  std::vector<std::pair<CircuitState, CircuitState>> seen;
  BreakerOptions o;
  o.failure_threshold = 3;
  o.open_duration = 1000ms;
  CircuitBreaker b(o, [&](CircuitState from, CircuitState to) { seen.emplace_back(from, to); });
  Clock::time_point t0 = Clock::now();

  EXPECT_TRUE(b.allow(t0));
  b.onFailure(t0);
  b.onFailure(t0);
  b.onSuccess();  // resets the count
  b.onFailure(t0);
  b.onFailure(t0);
  EXPECT_EQ(b.state(), CircuitState::kClosed);
  b.onFailure(t0);
  EXPECT_EQ(b.state(), CircuitState::kOpen);
  EXPECT_FALSE(b.allow(t0 + 999ms));

  EXPECT_TRUE(b.allow(t0 + 1000ms)) << "first probe";
  EXPECT_EQ(b.state(), CircuitState::kHalfOpen);
  EXPECT_FALSE(b.allow(t0 + 1001ms)) << "one probe at a time";
  b.onFailure(t0 + 1100ms);
  EXPECT_EQ(b.state(), CircuitState::kOpen);
  EXPECT_FALSE(b.allow(t0 + 2000ms)) << "the open period restarts at the failed probe";
  EXPECT_TRUE(b.allow(t0 + 2100ms));
  b.onSuccess();
  EXPECT_EQ(b.state(), CircuitState::kClosed);

  using S = CircuitState;
  std::vector<std::pair<S, S>> want = {{S::kClosed, S::kOpen},
                                       {S::kOpen, S::kHalfOpen},
                                       {S::kHalfOpen, S::kOpen},
                                       {S::kOpen, S::kHalfOpen},
                                       {S::kHalfOpen, S::kClosed}};
  EXPECT_EQ(seen, want);
}

TEST(LlmCircuitBreaker, AbandonedProbeFreesTheSlot) {
  BreakerOptions o;
  o.failure_threshold = 1;
  o.open_duration = 10ms;
  o.half_open_max_calls = 2;
  CircuitBreaker b(o);
  Clock::time_point t0 = Clock::now();
  b.onFailure(t0);
  EXPECT_TRUE(b.allow(t0 + 10ms));
  EXPECT_TRUE(b.allow(t0 + 10ms));
  EXPECT_FALSE(b.allow(t0 + 10ms));
  b.onAbandon();
  EXPECT_TRUE(b.allow(t0 + 10ms));
  EXPECT_EQ(b.state(), CircuitState::kHalfOpen);
}

}  // namespace
}  // namespace agentd::llm
