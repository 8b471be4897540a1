#include "llm/circuit_breaker.h"

#include <algorithm>

namespace agentd::llm {

const char* circuitStateName(CircuitState state) {
  switch (state) {
    case CircuitState::kClosed:
      return "closed";
    case CircuitState::kOpen:
      return "open";
    case CircuitState::kHalfOpen:
      return "half_open";
  }
  return "closed";
}

CircuitBreaker::CircuitBreaker(BreakerOptions options, Listener listener)
    : options_(options), listener_(std::move(listener)) {}

void CircuitBreaker::transition(CircuitState to, std::unique_lock<std::mutex>& lock) {
  CircuitState from = state_;
  if (from == to) return;
  state_ = to;
  if (listener_) {
    lock.unlock();
    listener_(from, to);
    lock.lock();
  }
}

bool CircuitBreaker::allow(Clock::time_point now) {
  std::unique_lock<std::mutex> lock(mu_);
  if (state_ == CircuitState::kOpen) {
    if (now - opened_at_ < options_.open_duration) return false;
    probes_in_flight_ = 0;
    transition(CircuitState::kHalfOpen, lock);
  }
  if (state_ == CircuitState::kHalfOpen) {
    if (probes_in_flight_ >= std::max(1, options_.half_open_max_calls)) return false;
    ++probes_in_flight_;
  }
  return true;
}

void CircuitBreaker::onSuccess() {
  std::unique_lock<std::mutex> lock(mu_);
  consecutive_failures_ = 0;
  if (state_ == CircuitState::kHalfOpen) {
    probes_in_flight_ = 0;
    transition(CircuitState::kClosed, lock);
  }
}

void CircuitBreaker::onFailure(Clock::time_point now) {
  std::unique_lock<std::mutex> lock(mu_);
  if (state_ == CircuitState::kHalfOpen) {
    probes_in_flight_ = 0;
    opened_at_ = now;
    transition(CircuitState::kOpen, lock);
    return;
  }
  if (state_ == CircuitState::kOpen) return;  // a late answer of a call let through earlier
  if (++consecutive_failures_ >= std::max(1, options_.failure_threshold)) {
    consecutive_failures_ = 0;
    opened_at_ = now;
    transition(CircuitState::kOpen, lock);
  }
}

void CircuitBreaker::onAbandon() {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ == CircuitState::kHalfOpen && probes_in_flight_ > 0) --probes_in_flight_;
}

CircuitState CircuitBreaker::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

}  // namespace agentd::llm
