#include "llm/retry.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace agentd::llm {

const char* failureKindName(FailureKind kind) {
  switch (kind) {
    case FailureKind::kCancelled:
      return "cancelled";
    case FailureKind::kTimeout:
      return "timeout";
    case FailureKind::kConnection:
      return "connection_error";
    case FailureKind::kRateLimited:
      return "rate_limited";
    case FailureKind::kServerError:
      return "server_error";
    case FailureKind::kAuth:
      return "auth_error";
    case FailureKind::kClientError:
      return "client_error";
    case FailureKind::kInvalidResponse:
      return "invalid_response";
    case FailureKind::kCircuitOpen:
      return "circuit_open";
    case FailureKind::kLocal:
      return "error";
  }
  return "error";
}

bool isRetryableHttpStatus(long status) {
  switch (status) {
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
    case 529:
      return true;
    default:
      return false;
  }
}

Failure httpFailure(long status, const std::string& message, const HttpHeaders& headers,
                    std::chrono::system_clock::time_point now) {
  Failure f;
  f.http_status = status;
  f.retryable = isRetryableHttpStatus(status);
  f.reason = std::to_string(status);
  std::string text = "HTTP " + std::to_string(status) + (message.empty() ? "" : ": " + message);
  if (status == 401 || status == 403) {
    f.kind = FailureKind::kAuth;
    f.status = Status::failedPrecondition(text);
  } else if (status == 408) {
    f.kind = FailureKind::kTimeout;
    f.status = Status::deadlineExceeded(text);
  } else if (status == 429) {
    f.kind = FailureKind::kRateLimited;
    f.status = Status::unavailable(text);
  } else if (status == 404) {
    f.kind = FailureKind::kClientError;
    f.status = Status::notFound(text);
  } else if (status >= 500) {
    f.kind = FailureKind::kServerError;
    f.status = Status::unavailable(text);
  } else {
    f.kind = FailureKind::kClientError;
    f.status = Status::invalidArgument(text);
  }
  if (f.retryable) f.retry_after = parseRetryAfter(headers, now);
  return f;
}

Failure transportFailure(TransportError error, const std::string& message) {
  Failure f;
  f.reason = transportErrorName(error);
  switch (error) {
    case TransportError::kTimeout:
      f.kind = FailureKind::kTimeout;
      f.retryable = true;
      f.status = Status::deadlineExceeded("timeout: " + message);
      break;
    case TransportError::kConnect:
    case TransportError::kReset:
    case TransportError::kTruncated:
      f.kind = FailureKind::kConnection;
      f.retryable = true;
      f.status = Status::unavailable(std::string(transportErrorName(error)) + ": " + message);
      break;
    case TransportError::kCancelled:
      f.kind = FailureKind::kCancelled;
      f.status = Status::cancelled("cancelled");
      break;
    default:
      f.kind = FailureKind::kConnection;
      f.status = Status::ioError("transport error: " + message);
      break;
  }
  return f;
}

namespace {

std::optional<double> parseNumber(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  while (end && *end == ' ') ++end;
  if (end == s.c_str() || (end && *end != '\0') || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::chrono::milliseconds clampMillis(double ms) {
  if (ms < 0) ms = 0;
  ms = std::min(ms, 1e12);
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(ms)));
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parseHttpDate(const std::string& text) {
  // IMF-fixdate, obsolete RFC 850, asctime (RFC 9110 section 5.6.7).
  static const char* kFormats[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                   "%a %b %e %H:%M:%S %Y"};
  for (const char* fmt : kFormats) {
    struct tm tm;
    std::memset(&tm, 0, sizeof tm);
    const char* end = strptime(text.c_str(), fmt, &tm);
    if (!end) continue;
    while (*end == ' ') ++end;
    if (*end != '\0') continue;
    time_t t = timegm(&tm);
    if (t == static_cast<time_t>(-1)) continue;
    return std::chrono::system_clock::from_time_t(t);
  }
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> parseRetryAfter(
    const HttpHeaders& headers, std::chrono::system_clock::time_point now) {
  if (auto it = headers.find("retry-after-ms"); it != headers.end()) {
    if (auto v = parseNumber(it->second)) return clampMillis(*v);
  }
  auto it = headers.find("retry-after");
  if (it == headers.end()) return std::nullopt;
  if (auto v = parseNumber(it->second)) return clampMillis(*v * 1000.0);
  if (auto when = parseHttpDate(it->second)) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*when - now).count();
    return clampMillis(static_cast<double>(ms));
  }
  return std::nullopt;
}

std::chrono::milliseconds backoffDelay(const RetryOptions& options, int retry,
                                       std::mt19937_64& rng) {
  double cap = static_cast<double>(options.max_backoff.count());
  double exp = static_cast<double>(options.base_backoff.count()) *
               std::pow(2.0, static_cast<double>(std::clamp(retry, 0, 62)));
  double upper = std::max(0.0, std::min(cap, exp));
  std::uniform_real_distribution<double> dist(0.0, upper);
  return std::chrono::milliseconds(static_cast<int64_t>(dist(rng)));
}

std::string redact(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& s : secrets) {
    if (s.size() < 4) continue;
    size_t at = 0;
    while ((at = text.find(s, at)) != std::string::npos) {
      text.replace(at, s.size(), "[REDACTED]");
      at += 10;
    }
  }
  return text;
}

Status makeStatus(Status::Code code, std::string message) {
  switch (code) {
    case Status::Code::kOk:
      return Status::ok();
    case Status::Code::kInvalidArgument:
      return Status::invalidArgument(std::move(message));
    case Status::Code::kNotFound:
      return Status::notFound(std::move(message));
    case Status::Code::kAlreadyExists:
      return Status::alreadyExists(std::move(message));
    case Status::Code::kFailedPrecondition:
      return Status::failedPrecondition(std::move(message));
    case Status::Code::kUnavailable:
      return Status::unavailable(std::move(message));
    case Status::Code::kDeadlineExceeded:
      return Status::deadlineExceeded(std::move(message));
    case Status::Code::kCancelled:
      return Status::cancelled(std::move(message));
    case Status::Code::kIoError:
      return Status::ioError(std::move(message));
    case Status::Code::kInternal:
      return Status::internal(std::move(message));
  }
  return Status::internal(std::move(message));
}

}  // namespace agentd::llm
