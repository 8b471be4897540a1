// ResponseCache: successful responses by request key, with a TTL, evicted least recently used
// first so that the entries' estimated sizes stay within max_bytes. Time is passed in. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "llm/types.h"

namespace agentd::llm {

class ResponseCache {
 public:
  using Clock = std::chrono::steady_clock;
  ResponseCache(size_t max_bytes, std::chrono::milliseconds ttl);

  // Returns the live entry for key (and marks it most recently used); expired entries go.
  std::optional<ChatResponse> get(const std::string& key, Clock::time_point now);
  // Stores response; an entry larger than max_bytes is not stored.
  void put(const std::string& key, const ChatResponse& response, Clock::time_point now);

  size_t bytes() const;
  size_t entries() const;
  // The size an entry is charged: key, strings of the response and a fixed overhead.
  static size_t entrySize(const std::string& key, const ChatResponse& response);

 private:
  struct Entry {
    std::string key;
    ChatResponse response;
    size_t size;
    Clock::time_point expires;
  };
  void eraseLocked(std::list<Entry>::iterator it);
  const size_t max_bytes_;
  const std::chrono::milliseconds ttl_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front = most recently used
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  size_t bytes_ = 0;
};

}  // namespace agentd::llm
