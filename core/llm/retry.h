// Failure classification and retry timing. Retryable: connection errors, timeouts, resets,
// truncated bodies and HTTP 408, 429, 500, 502, 503, 504, 529. Not retryable: everything else
// (notably 400, 401, 403, 404, 422, malformed responses and cancellation).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/status.h"
#include "llm/http_client.h"
#include "llm/options.h"

namespace agentd::llm {

// Metric-friendly kind of a failed attempt; its name is the `status` label of
// agentd_gen_ai_client_operation_duration_seconds.
enum class FailureKind {
  kCancelled,
  kTimeout,
  kConnection,
  kRateLimited,
  kServerError,
  kAuth,
  kClientError,
  kInvalidResponse,
  kCircuitOpen,
  kLocal,  // could not be sent, or a scripted/replay provider had no answer
};
const char* failureKindName(FailureKind kind);

// One failed attempt, classified.
struct Failure {
  Status status;
  FailureKind kind = FailureKind::kLocal;
  bool retryable = false;
  std::string reason;  // the `reason` label of agentd_llm_retries_total: "429", "timeout", ...
  long http_status = 0;
  std::optional<std::chrono::milliseconds> retry_after;
  bool output_delivered = false;  // stream deltas already reached the caller
};

// Returns true for 408, 429, 500, 502, 503, 504 and 529.
bool isRetryableHttpStatus(long status);
// Classifies an HTTP error response; message is the provider's error text (already redacted).
Failure httpFailure(long status, const std::string& message, const HttpHeaders& headers,
                    std::chrono::system_clock::time_point now);
// Classifies a transport error (connect, timeout, reset, truncated, ...).
Failure transportFailure(TransportError error, const std::string& message);

// Returns the server's requested wait: retry-after-ms, else Retry-After as delta-seconds or an
// HTTP-date (IMF-fixdate, RFC 850 or asctime), clamped at zero; nullopt when absent or invalid.
std::optional<std::chrono::milliseconds> parseRetryAfter(const HttpHeaders& headers,
                                                         std::chrono::system_clock::time_point now);
// Parses an HTTP-date; nullopt when it is none of the three formats.
std::optional<std::chrono::system_clock::time_point> parseHttpDate(const std::string& text);

// Full jitter: uniform in [0, min(max_backoff, base_backoff * 2^retry)], retry counting from 0.
std::chrono::milliseconds backoffDelay(const RetryOptions& options, int retry,
                                       std::mt19937_64& rng);

// Returns text with every occurrence of each secret (of at least 4 characters) replaced by
// "[REDACTED]".
std::string redact(std::string text, const std::vector<std::string>& secrets);
// Returns a Status with code and message.
Status makeStatus(Status::Code code, std::string message);

}  // namespace agentd::llm
