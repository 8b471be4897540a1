#include "llm/cache.h"

namespace agentd::llm {

ResponseCache::ResponseCache(size_t max_bytes, std::chrono::milliseconds ttl)
    : max_bytes_(max_bytes), ttl_(ttl) {}

size_t ResponseCache::entrySize(const std::string& key, const ChatResponse& r) {
  size_t n = 2 * key.size() + sizeof(Entry) + 64;  // the key is held twice (list + index)
  n += r.id.size() + r.content.size() + r.finish_reason_raw.size() + r.model.size() +
       r.provider.size();
  for (const ToolCall& c : r.tool_calls) {
    n += sizeof(ToolCall) + c.id.size() + c.name.size() + c.arguments.size();
  }
  return n;
}

void ResponseCache::eraseLocked(std::list<Entry>::iterator it) {
  bytes_ -= it->size;
  index_.erase(it->key);
  lru_.erase(it);
}

std::optional<ChatResponse> ResponseCache::get(const std::string& key, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  if (now >= it->second->expires) {
    eraseLocked(it->second);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->response;
}

void ResponseCache::put(const std::string& key, const ChatResponse& response,
                        Clock::time_point now) {
  size_t size = entrySize(key, response);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = index_.find(key); it != index_.end()) eraseLocked(it->second);
  if (size > max_bytes_) return;
  while (bytes_ + size > max_bytes_ && !lru_.empty()) eraseLocked(std::prev(lru_.end()));
  lru_.push_front(Entry{key, response, size, now + ttl_});
  index_[key] = lru_.begin();
  bytes_ += size;
}

size_t ResponseCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

size_t ResponseCache::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

}  // namespace agentd::llm
