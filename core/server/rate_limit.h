// RateLimiter: a token bucket per key (API key, token subject or client address). Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace agentd::server {

class RateLimiter {
 public:
  // rate: tokens per second (0 disables limiting); burst: bucket size.
  RateLimiter(double rate, int burst) : rate_(rate), burst_(burst) {}
  bool enabled() const { return rate_ > 0; }
  // Takes a token for key. Returns 0 when allowed, else the seconds until one is available.
  double take(const std::string& key);

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point last;
  };
  const double rate_;
  const int burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  size_t takes_ = 0;
};

}  // namespace agentd::server
