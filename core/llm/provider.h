// Provider: one model endpoint answering single attempts. Retry, circuit breaking, fallback and
// caching live in LlmClient; a provider only turns a request into one classified outcome.
// Everything runs on the HttpClient's event thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "llm/http_client.h"
#include "llm/options.h"
#include "llm/retry.h"
#include "llm/types.h"

namespace agentd::llm {

// The outcome of one attempt: a response, or a classified failure.
struct AttemptResult {
  std::optional<ChatResponse> response;
  Failure failure;  // meaningful when !response
};
using AttemptDone = std::function<void(AttemptResult)>;
using CancelFn = std::function<void()>;

class Provider {
 public:
  virtual ~Provider() = default;
  const ProviderOptions& options() const { return options_; }
  const std::string& name() const { return options_.name; }

  // REQUIRES: called on the event thread. Starts one attempt; done runs exactly once on the
  // event thread, never inside start(), unless the returned CancelFn (also called on the event
  // thread) ran first. When on_delta is set the attempt streams and on_delta sees the output.
  virtual CancelFn start(const ChatRequest& request, const ModelOptions& model,
                         StreamCallback on_delta, AttemptDone done) = 0;

 protected:
  explicit Provider(ProviderOptions options) : options_(std::move(options)) {}
  ProviderOptions options_;
};

// Creates the provider options.type names; with record_path set it records to that cassette.
Result<std::unique_ptr<Provider>> makeProvider(const ProviderOptions& options, HttpClient& http);

// Delivers a complete response as stream deltas: text in word-sized pieces, then each tool call
// as a start and argument fragments. Used by the scripted and replay providers and cache hits.
void streamResponse(const ChatResponse& response, const StreamCallback& on_delta);

// One turn of a script: a response, or an error to report instead.
struct ScriptTurn {
  ChatResponse response;
  std::optional<Failure> error;
  std::chrono::milliseconds delay{0};
};
// Parses a script: a JSON array of turns, or one turn per line (JSON lines; blank lines and
// lines starting with '#' are skipped). Errors name the turn (line) and the problem.
Result<std::vector<ScriptTurn>> parseScript(std::string_view text);

// One cassette line: {"hash","provider","recorded_at","request":{...},"response":{...}}.
struct CassetteEntry {
  std::string hash;
  ChatResponse response;
};
// Parses a cassette (JSON lines). Errors name the line.
Result<std::vector<CassetteEntry>> parseCassette(std::string_view text);

}  // namespace agentd::llm
