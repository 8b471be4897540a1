// Retry classification, Retry-After parsing (seconds, HTTP-date, retry-after-ms), full-jitter
// backoff bounds, and redaction.
#include "llm/retry.h"

#include <gtest/gtest.h>

#include <ctime>

namespace agentd::llm {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

TEST(LlmRetry, ClassificationIsExactlyTheListedOne) {
  for (long s : {408, 429, 500, 502, 503, 504, 529}) {
    EXPECT_TRUE(isRetryableHttpStatus(s)) << s;
    EXPECT_TRUE(httpFailure(s, "", {}, system_clock::now()).retryable) << s;
  }
  for (long s : {400, 401, 403, 404, 409, 413, 422, 501, 505}) {
    EXPECT_FALSE(isRetryableHttpStatus(s)) << s;
  }
  EXPECT_EQ(httpFailure(401, "x", {}, system_clock::now()).kind, FailureKind::kAuth);
  EXPECT_EQ(httpFailure(429, "x", {}, system_clock::now()).kind, FailureKind::kRateLimited);
  EXPECT_EQ(httpFailure(529, "x", {}, system_clock::now()).reason, "529");
  for (auto e : {TransportError::kConnect, TransportError::kTimeout, TransportError::kReset,
                 TransportError::kTruncated}) {
    EXPECT_TRUE(transportFailure(e, "m").retryable) << transportErrorName(e);
  }
  EXPECT_FALSE(transportFailure(TransportError::kCancelled, "m").retryable);
  EXPECT_FALSE(transportFailure(TransportError::kOther, "m").retryable);
  EXPECT_EQ(transportFailure(TransportError::kTimeout, "m").status.code(),
            Status::Code::kDeadlineExceeded);
}

std::string httpDate(system_clock::time_point t, const char* fmt) {
  std::time_t tt = system_clock::to_time_t(t);
  std::tm tm;
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

TEST(LlmRetry, RetryAfterForms) {
  auto now = system_clock::now();
  EXPECT_EQ(parseRetryAfter({{"retry-after", "3"}}, now), milliseconds(3000));
  EXPECT_EQ(parseRetryAfter({{"retry-after", "0.25"}}, now), milliseconds(250));
  EXPECT_EQ(parseRetryAfter({{"retry-after-ms", "120"}, {"retry-after", "9"}}, now),
            milliseconds(120))
      << "retry-after-ms is more precise and wins";
  EXPECT_EQ(parseRetryAfter({{"retry-after", "soon"}}, now), std::nullopt);
  EXPECT_EQ(parseRetryAfter({}, now), std::nullopt);
  EXPECT_EQ(parseRetryAfter({{"retry-after", "-5"}}, now), milliseconds(0));

  // HTTP-date has whole seconds: 10 s ahead of a whole-second "now".
  auto base = system_clock::from_time_t(system_clock::to_time_t(now));
  auto later = base + std::chrono::seconds(10);
  for (const char* fmt :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    std::string date = httpDate(later, fmt);
    EXPECT_EQ(parseRetryAfter({{"retry-after", date}}, base), milliseconds(10000)) << date;
  }
  std::string past = httpDate(base - std::chrono::seconds(30), "%a, %d %b %Y %H:%M:%S GMT");
  EXPECT_EQ(parseRetryAfter({{"retry-after", past}}, base), milliseconds(0));
  EXPECT_EQ(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), system_clock::from_time_t(784111777));
}

TEST(LlmRetry, RetryAfterOnlyForRetryableStatuses) {
  auto f = httpFailure(503, "busy", {{"retry-after", "2"}}, system_clock::now());
  EXPECT_EQ(f.retry_after, milliseconds(2000));
  EXPECT_FALSE(httpFailure(400, "bad", {{"retry-after", "2"}}, system_clock::now()).retry_after);
}

TEST(LlmRetry, FullJitterStaysWithinTheExponentialCap) {
  RetryOptions o;
  o.base_backoff = milliseconds(100);
  o.max_backoff = milliseconds(1000);
  std::mt19937_64 rng(42);
  for (int retry = 0; retry < 8; ++retry) {
    int64_t cap = std::min<int64_t>(1000, 100LL << retry);
    int64_t max_seen = 0;
    double sum = 0;
    for (int i = 0; i < 2000; ++i) {
      int64_t d = backoffDelay(o, retry, rng).count();
      ASSERT_GE(d, 0);
      ASSERT_LE(d, cap) << "retry " << retry;
      max_seen = std::max(max_seen, d);
      sum += static_cast<double>(d);
    }
    EXPECT_GT(max_seen, cap * 9 / 10) << "the whole range is used";
    EXPECT_NEAR(sum / 2000, cap / 2.0, cap * 0.1) << "uniform: mean is half the cap";
  }
}

TEST(LlmRetry, RedactReplacesEveryOccurrence) {
  EXPECT_EQ(redact("key sk-123456 and sk-123456!", {"sk-123456"}),
            "key [REDACTED] and [REDACTED]!");
  EXPECT_EQ(redact("abc", {""}), "abc");
  EXPECT_EQ(redact("ab ab", {"ab"}), "ab ab") << "too short to be a secret";
}

}  // namespace
}  // namespace agentd::llm
