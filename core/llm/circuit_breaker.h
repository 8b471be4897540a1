// CircuitBreaker: per provider endpoint. Closed until failure_threshold consecutive retryable
// failures, then open (calls refused) for open_duration, then half-open: up to
// half_open_max_calls probes; a success closes it, a failure opens it again. Time is passed in,
// so tests drive it with their own clock. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>

#include "llm/options.h"

namespace agentd::llm {

// The value of agentd_llm_circuit_state: 0 closed, 1 open, 2 half-open.
enum class CircuitState { kClosed = 0, kOpen = 1, kHalfOpen = 2 };
const char* circuitStateName(CircuitState state);

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  using Listener = std::function<void(CircuitState from, CircuitState to)>;

  // listener runs on every transition, outside the breaker's lock.
  explicit CircuitBreaker(BreakerOptions options, Listener listener = {});

  // Returns true when a call may go out now (and, when half-open, takes a probe slot).
  bool allow(Clock::time_point now);
  // The outcome of an allowed call. A response that proves the endpoint healthy (including a
  // non-retryable HTTP error) is a success; onAbandon() releases a slot without a verdict.
  void onSuccess();
  void onFailure(Clock::time_point now);
  void onAbandon();
  CircuitState state() const;

 private:
  void transition(CircuitState to, std::unique_lock<std::mutex>& lock);
  const BreakerOptions options_;
  const Listener listener_;
  mutable std::mutex mu_;
  CircuitState state_ = CircuitState::kClosed;
  int consecutive_failures_ = 0;
  int probes_in_flight_ = 0;
  Clock::time_point opened_at_;
};

}  // namespace agentd::llm
