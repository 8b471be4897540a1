#include "llm/provider.h"

#include <algorithm>
#include <cctype>

#include "llm/providers_impl.h"
#include "llm/sse.h"
#include "llm/wire.h"
#include "observability/build_info.h"

namespace agentd::llm {
namespace {

constexpr size_t kMaxBodyBytes = 64u << 20;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Header values that carry credentials are secrets too.
bool sensitiveHeader(const std::string& name) {
  std::string n = lower(name);
  return n == "authorization" || n == "proxy-authorization" || n == "cookie" ||
         n.find("key") != std::string::npos || n.find("token") != std::string::npos ||
         n.find("secret") != std::string::npos;
}

class HttpProvider final : public Provider {
 public:
  HttpProvider(const ProviderOptions& options, HttpClient& http, std::unique_ptr<WireCodec> codec)
      : Provider(options), http_(http), codec_(std::move(codec)) {
    std::string base = options.base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    url_ = base + codec_->path();
    secrets_.push_back(options.api_key);
    std::vector<std::pair<std::string, std::string>> h = {
        {"Content-Type", "application/json"},
        {"User-Agent", std::string("agentd/") + build::kVersion}};
    for (auto& kv : codec_->headers(options)) h.push_back(std::move(kv));
    for (const auto& [k, v] : options.headers) {
      if (sensitiveHeader(k)) secrets_.push_back(v);
      std::string lk = lower(k);
      h.erase(
          std::remove_if(h.begin(), h.end(), [&](const auto& e) { return lower(e.first) == lk; }),
          h.end());
      h.emplace_back(k, v);
    }
    headers_ = std::move(h);
  }

  CancelFn start(const ChatRequest& request, const ModelOptions& model, StreamCallback on_delta,
                 AttemptDone done) override {
    auto st = std::make_shared<State>();
    st->stream = static_cast<bool>(on_delta);
    Result<std::string> body = codec_->encode(request, model, st->stream);
    if (!body.ok()) {
      AttemptResult r;
      r.failure.kind = FailureKind::kLocal;
      r.failure.reason = "invalid_request";
      r.failure.status = body.status().withContext("provider " + name());
      http_.post([st, done = std::move(done), r = std::move(r)]() mutable {
        if (!st->cancelled) done(std::move(r));
      });
      return [st] { st->cancelled = true; };
    }
    if (st->stream) {
      st->decoder = codec_->streamDecoder();
      State* raw = st.get();
      st->emit = [raw, on_delta = std::move(on_delta)](const StreamDelta& d) {
        raw->delivered = true;
        on_delta(d);
      };
    }
    HttpRequest req;
    req.url = url_;
    req.headers = headers_;
    req.headers.emplace_back("Accept", st->stream ? "text/event-stream" : "application/json");
    req.body = std::move(body).value();
    req.connect_timeout = options_.connect_timeout;
    req.first_byte_timeout = options_.first_byte_timeout;
    req.total_timeout = options_.total_timeout;
    HttpCallbacks cb;
    cb.on_headers = [st](long status, const HttpHeaders&) {
      st->streaming = st->stream && status >= 200 && status < 300;
      return true;
    };
    cb.on_data = [st](std::string_view chunk) {
      if (st->streaming) {
        return st->parser.feed(chunk, [&](const SseEvent& ev) {
          if (auto err = st->decoder->onEvent(ev, st->emit)) {
            st->stream_error = std::move(err);
            return false;
          }
          return true;
        });
      }
      if (st->body.size() + chunk.size() > kMaxBodyBytes) {
        st->too_large = true;
        return false;
      }
      st->body.append(chunk);
      return true;
    };
    cb.on_done = [this, st, done = std::move(done)](HttpResult r) {
      if (st->cancelled) return;
      done(classify(*st, std::move(r)));
    };
    uint64_t id = http_.start(std::move(req), std::move(cb));
    return [this, st, id] {
      st->cancelled = true;
      http_.cancel(id);
    };
  }

 private:
  struct State {
    bool stream = false;
    bool streaming = false;  // a 2xx head arrived for a streaming request
    bool cancelled = false;
    bool delivered = false;
    bool too_large = false;
    SseParser parser;
    std::unique_ptr<StreamDecoder> decoder;
    std::optional<StreamError> stream_error;
    StreamCallback emit;
    std::string body;
  };

  AttemptResult classify(State& st, HttpResult r) {
    AttemptResult out;
    Failure f;
    auto now = std::chrono::system_clock::now();
    if (r.error == TransportError::kAborted && st.stream_error) {
      const StreamError& e = *st.stream_error;
      if (e.equivalent_http_status) {
        f = httpFailure(e.equivalent_http_status, e.status.message(), {}, now);
        f.status = makeStatus(f.status.code(), "in stream: " + e.status.message());
      } else {
        f.kind = FailureKind::kInvalidResponse;
        f.reason = "invalid_response";
        f.status = e.status;
      }
    } else if (r.error == TransportError::kAborted && st.too_large) {
      f.kind = FailureKind::kInvalidResponse;
      f.reason = "invalid_response";
      f.status = Status::internal("response body larger than 64 MiB");
    } else if (r.error != TransportError::kNone) {
      f = transportFailure(r.error, r.error_message);
    } else if (r.status < 200 || r.status >= 300) {
      f = httpFailure(r.status, errorMessageFromBody(st.body), r.headers, now);
    } else if (st.streaming) {
      if (st.decoder->complete()) {
        out.response = st.decoder->finish();
      } else {
        f = transportFailure(TransportError::kTruncated,
                             "the event stream ended before its end marker");
      }
    } else {
      Result<ChatResponse> decoded = codec_->decode(st.body);
      if (decoded.ok()) {
        out.response = std::move(decoded).value();
      } else {
        f.kind = FailureKind::kInvalidResponse;
        f.reason = "invalid_response";
        f.status = decoded.status();
      }
    }
    if (out.response) {
      out.response->provider = name();
      return out;
    }
    f.output_delivered = st.delivered;
    f.status = makeStatus(f.status.code(),
                          redact("provider " + name() + ": " + f.status.message(), secrets_));
    out.failure = std::move(f);
    return out;
  }

  HttpClient& http_;
  std::unique_ptr<WireCodec> codec_;
  std::string url_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::vector<std::string> secrets_;
};

}  // namespace

std::unique_ptr<Provider> makeHttpProvider(const ProviderOptions& options, HttpClient& http,
                                           std::unique_ptr<WireCodec> codec) {
  return std::make_unique<HttpProvider>(options, http, std::move(codec));
}

Result<std::unique_ptr<Provider>> makeProvider(const ProviderOptions& options, HttpClient& http) {
  if (options.name.empty()) return Status::invalidArgument("a provider needs a name");
  std::unique_ptr<Provider> p;
  const std::string& type = options.type;
  if (type == "openai" || type == "anthropic") {
    if (options.base_url.rfind("http://", 0) != 0 && options.base_url.rfind("https://", 0) != 0) {
      return Status::invalidArgument("provider " + options.name +
                                     ": base_url must start with http:// or https://");
    }
    p = makeHttpProvider(options, http, type == "openai" ? openAiCodec() : anthropicCodec());
  } else if (type == "scripted") {
    auto r = makeScriptedProvider(options, http);
    if (!r.ok()) return r.status();
    p = std::move(r).value();
  } else if (type == "replay") {
    auto r = makeReplayProvider(options, http);
    if (!r.ok()) return r.status();
    p = std::move(r).value();
  } else {
    return Status::invalidArgument("provider " + options.name + ": unknown type \"" + type +
                                   "\" (expected openai, anthropic, scripted or replay)");
  }
  if (options.retry.max_attempts < 1) {
    return Status::invalidArgument("provider " + options.name +
                                   ": retry.max_attempts must be >= 1");
  }
  if (!options.record_path.empty()) return makeRecordingProvider(std::move(p));
  return p;
}

void streamResponse(const ChatResponse& r, const StreamCallback& on_delta) {
  if (!on_delta) return;
  size_t at = 0;
  const std::string& text = r.content;
  while (at < text.size()) {
    size_t space = text.find(' ', at + 1);
    size_t end = space == std::string::npos ? text.size() : space;
    on_delta(StreamDelta{StreamDelta::Kind::kText, text.substr(at, end - at), 0, {}, {}});
    at = end;
  }
  for (size_t i = 0; i < r.tool_calls.size(); ++i) {
    const ToolCall& c = r.tool_calls[i];
    int index = static_cast<int>(i);
    on_delta(StreamDelta{StreamDelta::Kind::kToolCallStart, {}, index, c.id, c.name});
    for (size_t off = 0; off < c.arguments.size(); off += 16) {
      on_delta(StreamDelta{
          StreamDelta::Kind::kToolCallArguments, c.arguments.substr(off, 16), index, {}, {}});
    }
  }
}

}  // namespace agentd::llm
