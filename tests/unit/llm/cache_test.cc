// ResponseCache: TTL expiry, LRU eviction within the byte bound, oversize entries refused.
#include "llm/cache.h"

#include <gtest/gtest.h>

namespace agentd::llm {
namespace {

using namespace std::chrono_literals;
using Clock = ResponseCache::Clock;

ChatResponse answer(const std::string& text) {
  ChatResponse r;
  r.content = text;
  return r;
}

TEST(LlmCache, ExpiresAfterTtl) {
  ResponseCache c(1 << 20, 1000ms);
  Clock::time_point t0 = Clock::now();
  c.put("k", answer("v"), t0);
  ASSERT_TRUE(c.get("k", t0 + 999ms));
  EXPECT_EQ(c.get("k", t0 + 999ms)->content, "v");
  EXPECT_FALSE(c.get("k", t0 + 1000ms));
  EXPECT_EQ(c.entries(), 0u) << "an expired entry is dropped";
  EXPECT_EQ(c.bytes(), 0u);
}

TEST(LlmCache, EvictsLeastRecentlyUsedWithinBytes) {
  std::string big(1000, 'x');
  size_t one = ResponseCache::entrySize("a", answer(big));
  ResponseCache c(3 * one, 60s);
  Clock::time_point t = Clock::now();
  c.put("a", answer(big), t);
  c.put("b", answer(big), t);
  c.put("c", answer(big), t);
  EXPECT_EQ(c.entries(), 3u);
  EXPECT_TRUE(c.get("a", t));  // a becomes most recent; b is now the oldest
  c.put("d", answer(big), t);
  EXPECT_EQ(c.entries(), 3u);
  EXPECT_LE(c.bytes(), 3 * one);
  EXPECT_FALSE(c.get("b", t));
  EXPECT_TRUE(c.get("a", t));
  EXPECT_TRUE(c.get("c", t));
  EXPECT_TRUE(c.get("d", t));
}

TEST(LlmCache, OversizeEntryIsNotStoredAndReplaceKeepsAccounting) {
  ResponseCache c(500, 60s);
  Clock::time_point t = Clock::now();
  c.put("huge", answer(std::string(1000, 'x')), t);
  EXPECT_EQ(c.entries(), 0u);
  c.put("k", answer("one"), t);
  size_t before = c.bytes();
  c.put("k", answer("two"), t);
  EXPECT_EQ(c.entries(), 1u);
  EXPECT_EQ(c.bytes(), before);
  EXPECT_EQ(c.get("k", t)->content, "two");
}

}  // namespace
}  // namespace agentd::llm
