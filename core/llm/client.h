// LlmClient: the entry point for model calls. Named models over their providers, with
// classified retry (Retry-After honoured, else full-jitter backoff within max_attempts and
// max_elapsed), a circuit breaker per provider, per-model fallback lists, and a response cache
// for models that enable it. Every call runs on one event thread (see http_client.h for why):
// a thousand calls in flight cost that one thread. With Options::http.external_loop that thread
// is whichever drives http().loop() (the agent's io_context in agentd). Thread-safe.
//
// Streaming: a call with on_delta set streams; deltas and the completion run on the event thread
// and must not block. Once a delta reached the caller, a failed attempt is neither retried nor
// sent to a fallback: the call fails and says so.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "llm/circuit_breaker.h"
#include "llm/http_client.h"
#include "llm/options.h"
#include "llm/types.h"

namespace agentd::llm {

struct CallOptions {
  StreamCallback on_delta;  // set: stream the answer
  std::optional<std::chrono::milliseconds>
      timeout;  // the whole call, retries and fallbacks included
};
using DoneCallback = std::function<void(Result<ChatResponse>)>;

namespace detail {
struct Call;
}

// Refers to one call in flight. REQUIRES: not used after its LlmClient is destroyed.
class CallHandle {
 public:
  CallHandle() = default;
  // Stops the call: its done callback receives Cancelled unless it already ran. Thread-safe,
  // idempotent.
  void cancel();
  bool valid() const { return !call_.expired(); }

 private:
  friend class LlmClient;
  explicit CallHandle(std::weak_ptr<detail::Call> call) : call_(std::move(call)) {}
  std::weak_ptr<detail::Call> call_;
};

class LlmClient {
 public:
  struct Options {
    HttpClient::Options http;
    uint64_t jitter_seed = 0;  // 0: seeded from the clock
  };
  // Validates the options (unique names, known providers and fallbacks, readable scripts and
  // cassettes) and starts the event thread.
  static Result<std::unique_ptr<LlmClient>> create(std::vector<ProviderOptions> providers,
                                                   std::vector<ModelOptions> models,
                                                   Options options);
  static Result<std::unique_ptr<LlmClient>> create(std::vector<ProviderOptions> providers,
                                                   std::vector<ModelOptions> models) {
    return create(std::move(providers), std::move(models), Options{});
  }
  // Completes every call in flight with Cancelled, then stops the event thread.
  // REQUIRES: not called from a callback of this client.
  ~LlmClient();
  LlmClient(const LlmClient&) = delete;
  LlmClient& operator=(const LlmClient&) = delete;

  // Starts a call; done runs exactly once, on the event thread, never inside chatAsync().
  CallHandle chatAsync(const std::string& model, ChatRequest request, CallOptions options,
                       DoneCallback done);
  // Blocking convenience wrapper. REQUIRES: not called on the event thread (it would deadlock;
  // such a call returns FailedPrecondition) nor, with external_loop, on the thread that drives
  // the loop.
  Result<ChatResponse> chat(const std::string& model, ChatRequest request,
                            CallOptions options = {});

  bool hasModel(const std::string& model) const;
  std::vector<std::string> modelNames() const;
  // The breaker state of a provider (kClosed for an unknown name).
  CircuitState circuitState(const std::string& provider) const;
  const HttpClient& http() const;

 private:
  class Impl;
  friend class CallHandle;
  friend struct detail::Call;
  explicit LlmClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace agentd::llm
