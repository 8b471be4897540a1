// Plain option structs for providers and models; configuration maps onto them. Defaults are
// the values used when a key is absent.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace agentd::llm {

using std::chrono::milliseconds;

struct RetryOptions {
  int max_attempts = 3;             // attempts per provider, including the first
  milliseconds max_elapsed{60000};  // retries stop when the next wait would pass this
  milliseconds base_backoff{500};   // full jitter: wait U(0, min(max, base * 2^n))
  milliseconds max_backoff{20000};
};

struct BreakerOptions {
  int failure_threshold = 5;          // consecutive retryable failures that open it
  milliseconds open_duration{30000};  // open -> half-open after this long
  int half_open_max_calls = 1;        // probes allowed while half-open
};

// One model endpoint. type: "openai" (Chat Completions; base_url includes the version path,
// e.g. https://api.openai.com/v1), "anthropic" (Messages; base_url without it, e.g.
// https://api.anthropic.com), "scripted" (script_path), "replay" (cassette_path).
struct ProviderOptions {
  std::string name;
  std::string type;
  std::string base_url;
  std::string api_key;      // secret: never logged, never in errors or metrics
  std::string api_version;  // anthropic-version; default "2023-06-01"
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers
  milliseconds connect_timeout{10000};
  milliseconds first_byte_timeout{120000};  // from the start of an attempt to the first byte
  milliseconds total_timeout{600000};       // one attempt, streaming included
  RetryOptions retry;
  BreakerOptions breaker;
  std::string record_path;    // when set, successful calls are appended to this cassette
  std::string script_path;    // scripted: the turns file
  bool script_cycle = false;  // scripted: start over after the last turn instead of failing
  std::string cassette_path;  // replay: the cassette to answer from
};

struct CacheOptions {
  bool enabled = false;
  milliseconds ttl{300000};
  size_t max_bytes = 64u << 20;
};

// A named model: which provider serves it and how. fallback names other models, tried in order
// when this one's provider is open (circuit breaker) or its retries are exhausted.
struct ModelOptions {
  std::string name;
  std::string provider;
  std::string model;  // the provider's model id
  int max_tokens = 4096;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<bool> parallel_tool_calls;
  std::vector<std::string> fallback;
  CacheOptions cache;
};

}  // namespace agentd::llm
