// Wire codecs: how a ChatRequest becomes an HTTP body for one API and how its responses (whole
// or streamed as SSE) become a ChatResponse. A codec may be called from any thread; its encode()
// keeps the encoded tools arrays of the last four tool lists it saw (a request repeats its
// tools). Stream decoders are single-threaded.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "llm/options.h"
#include "llm/sse.h"
#include "llm/types.h"

namespace agentd::llm {

// An error reported inside a 200 stream (e.g. Anthropic's `event: error`), with the HTTP status
// it stands for (529 for overloaded_error, ...), or 0 for a malformed stream (not retryable).
struct StreamError {
  Status status;
  long equivalent_http_status = 0;
};

// Accumulates one streamed response. Not thread-safe.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  // Consumes one SSE event, calling emit for text and tool-call deltas. An error ends the stream.
  virtual std::optional<StreamError> onEvent(const SseEvent& event, const StreamCallback& emit) = 0;
  // True once the stream's end marker arrived ([DONE], message_stop).
  virtual bool complete() const = 0;
  // The assembled response. REQUIRES: complete().
  virtual ChatResponse finish() = 0;
};

class WireCodec {
 public:
  virtual ~WireCodec() = default;
  // The endpoint path appended to base_url.
  virtual std::string path() const = 0;
  // Authentication and protocol headers (excluding content-type/accept).
  virtual std::vector<std::pair<std::string, std::string>> headers(
      const ProviderOptions& provider) const = 0;
  virtual Result<std::string> encode(const ChatRequest& request, const ModelOptions& model,
                                     bool stream) const = 0;
  virtual Result<ChatResponse> decode(std::string_view body) const = 0;
  virtual std::unique_ptr<StreamDecoder> streamDecoder() const = 0;
};

// OpenAI Chat Completions (and compatible servers).
std::unique_ptr<WireCodec> openAiCodec();
// Anthropic Messages.
std::unique_ptr<WireCodec> anthropicCodec();

// Returns error.message of an OpenAI- or Anthropic-style error body, else the body's first
// 300 bytes.
std::string errorMessageFromBody(std::string_view body);

FinishReason finishReasonFromOpenAi(std::string_view s);
FinishReason finishReasonFromAnthropic(std::string_view s);

}  // namespace agentd::llm
