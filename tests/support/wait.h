// Test support: a bounded wait for a condition that another thread or process makes true.
#pragma once

#include <chrono>
#include <thread>

namespace agentd::testing {

// Checks cond every `every` until it holds or timeout has passed; returns whether it held.
template <class Cond>
bool waitUntil(Cond&& cond, std::chrono::milliseconds timeout,
               std::chrono::milliseconds every = std::chrono::milliseconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

}  // namespace agentd::testing
