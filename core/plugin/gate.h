// Gate: counts in-flight calls into one plugin generation (Seastar's gate semantics).
// tryEnter() fails once close() was called; waitDrained() returns when the count reaches zero.
// Thread-safe; enter/leave are lock-free.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace agentd::plugin {

class Gate {
 public:
  // Returns false (and counts nothing) once the gate is closed.
  bool tryEnter() {
    uint64_t prev = state_.fetch_add(1, std::memory_order_acquire);
    if (prev & kClosed) {
      leave();
      return false;
    }
    return true;
  }
  // REQUIRES: a matching successful tryEnter().
  void leave() {
    uint64_t prev = state_.fetch_sub(1, std::memory_order_release);
    if ((prev & kClosed) && (prev & ~kClosed) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
  }
  void close() { state_.fetch_or(kClosed, std::memory_order_acq_rel); }
  bool closed() const { return state_.load(std::memory_order_acquire) & kClosed; }
  uint64_t inFlight() const { return state_.load(std::memory_order_acquire) & ~kClosed; }
  // REQUIRES: close() was called. Returns true iff no call is in flight within timeout.
  bool waitDrained(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return inFlight() == 0; });
  }

 private:
  static constexpr uint64_t kClosed = uint64_t{1} << 63;
  std::atomic<uint64_t> state_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

// RAII holder of one gate entry.
class GateGuard {
 public:
  explicit GateGuard(Gate& g) : gate_(&g), entered_(g.tryEnter()) {}
  ~GateGuard() {
    if (entered_) gate_->leave();
  }
  GateGuard(const GateGuard&) = delete;
  GateGuard& operator=(const GateGuard&) = delete;
  bool entered() const { return entered_; }

 private:
  Gate* gate_;
  bool entered_;
};

}  // namespace agentd::plugin
