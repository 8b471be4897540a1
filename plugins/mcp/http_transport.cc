#include "http_transport.h"

#include <curl/curl.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <list>
#include <memory>
#include <set>

#include "json_util.h"
#include "sse.h"

namespace agentd::mcp {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxBody = 64u << 20;
constexpr size_t kMaxErrorBody = 4096;

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

std::string errorResponse(const std::string& id, const std::string& message) {
  return R"({"jsonrpc":"2.0","id":)" + id + R"(,"error":{"code":-32000,"message":)" +
         json::quote(message) + "}}";
}

// The server could not be reached at all.
bool unreachable(CURLcode rc) {
  return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
         rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_OPERATION_TIMEDOUT ||
         rc == CURLE_SSL_CONNECT_ERROR;
}

// An established connection broke.
bool broken(CURLcode rc) {
  return rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ||
         rc == CURLE_PARTIAL_FILE;
}

// The server no longer knows our session: 404 per the spec; many servers built on the TypeScript
// SDK's examples answer 400 "No valid session ID" instead.
bool sessionGone(long status, const std::string& body) {
  if (status == 404) return true;
  if (status != 400) return false;
  std::string lower(body);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("session") != std::string::npos;
}

}  // namespace

struct HttpTransport::Impl {
  struct Stream {
    bool get = false;         // GET stream (else POST)
    bool standalone = false;  // the GET stream for server-initiated messages
    std::string request_id;   // POST: the request carried; resume GET: the request awaited
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    std::string payload;
    long status = 0;
    bool typed = false;
    bool sse = false;
    bool drop = false;
    bool got_event = false;
    int attempt = 0;
    std::string body;
    SseParser parser;
    std::string last_event_id;  // sent as Last-Event-ID (resume)
    HttpTransport* self = nullptr;
    Impl* impl = nullptr;
  };
  struct Timer {
    Clock::time_point at;
    bool standalone = false;
    std::string request_id;
    std::string last_event_id;
    int attempt = 0;
  };

  CurlGlobal global;
  CURLM* multi = nullptr;
  std::list<std::unique_ptr<Stream>> streams;
  std::vector<Timer> timers;
  std::set<std::string> awaiting;  // request ids whose response has not arrived yet
  bool standalone_open = false;    // a standalone GET stream exists or is scheduled
  bool standalone_disabled = false;
  void* write_ctx = nullptr;  // the loop's WriteCtx
};

HttpTransport::HttpTransport(HttpOptions options) : options_(std::move(options)) {}

HttpTransport::~HttpTransport() {
  close();
  delete impl_;
}

std::string HttpTransport::sessionId() const {
  std::lock_guard<std::mutex> lock(mu_);
  return session_id_;
}

Status HttpTransport::start(Callbacks callbacks) {
  if (started_) return Status::internal("http transport started twice");
  started_ = true;
  callbacks_ = std::move(callbacks);
  if (options_.url.rfind("http://", 0) != 0 && options_.url.rfind("https://", 0) != 0) {
    return Status::invalidArgument("url must start with http:// or https://: " + options_.url);
  }
  impl_ = new Impl();
  impl_->multi = curl_multi_init();
  if (impl_->multi == nullptr) return Status::internal("curl_multi_init failed");
  thread_ = std::thread([this] { loop(); });
  return Status::ok();
}

Status HttpTransport::send(std::string message, const std::string& request_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return Status::unavailable("transport closed");
    queue_.push_back({std::move(message), request_id});
    curl_multi_wakeup(impl_->multi);
  }
  return Status::ok();
}

void HttpTransport::abandon(const std::string& request_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    abandoned_.push_back(request_id);
    curl_multi_wakeup(impl_->multi);
  }
}

void HttpTransport::setProtocolVersion(const std::string& version) {
  std::lock_guard<std::mutex> lock(mu_);
  protocol_version_ = version;
}

void HttpTransport::initialized() {
  std::unique_lock<std::mutex> lock(mu_);
  if (stop_) return;
  open_get_ = true;
  curl_multi_wakeup(impl_->multi);
  get_cv_.wait_for(lock, options_.get_stream_wait, [&] { return get_answered_ || stop_; });
}

void HttpTransport::loop() {
  Impl& im = *impl_;
  using Stream = Impl::Stream;

  auto log = [&](LogLevel level, const std::string& m) {
    if (callbacks_.log) callbacks_.log(level, m);
  };
  auto reportClosed = [&](const std::string& why) {
    if (!closed_reported_.exchange(true) && callbacks_.on_closed) {
      callbacks_.on_closed(Status::unavailable(why));
    }
  };
  auto deliver = [&](std::string_view message) {
    // Track responses so a broken stream knows whether its request is still unanswered.
    auto doc = json::parse(message);
    if (doc.ok()) {
      auto noteResponse = [&](const rapidjson::Value& v) {
        if (v.IsObject() && !v.HasMember("method") && v.HasMember("id")) {
          im.awaiting.erase(json::idText(v["id"]));
        }
      };
      if (doc->IsArray()) {
        for (const auto& v : doc->GetArray()) noteResponse(v);
      } else {
        noteResponse(*doc);
      }
    }
    if (callbacks_.on_message) callbacks_.on_message(message);
  };
  auto failRequest = [&](const std::string& id, const std::string& why) {
    if (id.empty() || im.awaiting.erase(id) == 0) return;
    if (callbacks_.on_message) callbacks_.on_message(errorResponse(id, why));
  };

  auto onHeader = +[](char* data, size_t size, size_t n, void* ud) -> size_t {
    auto* s = static_cast<Stream*>(ud);
    std::string line(data, size * n);
    if (s->standalone && (line == "\r\n" || line == "\n")) {
      long status = 0;
      curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
      if (status >= 200) {  // not a 1xx interim response
        std::lock_guard<std::mutex> lock(s->self->mu_);
        s->self->get_answered_ = true;
        s->self->get_cv_.notify_all();
      }
    }
    constexpr const char* kSession = "mcp-session-id:";
    if (line.size() > 15 && strncasecmp(line.c_str(), kSession, 15) == 0) {
      std::string id = trimmed(line.substr(15));
      if (!id.empty()) {
        std::lock_guard<std::mutex> lock(s->self->mu_);
        s->self->session_id_ = id;
      }
    }
    return size * n;
  };

  // Write callback: routes SSE events or accumulates a JSON / error body.
  struct WriteCtx {
    std::function<void(Stream*, std::string_view)> on_data;
  };
  WriteCtx wctx;
  wctx.on_data = [&](Stream* s, std::string_view chunk) {
    if (!s->typed) {
      s->typed = true;
      curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
      char* ct = nullptr;
      curl_easy_getinfo(s->easy, CURLINFO_CONTENT_TYPE, &ct);
      s->sse = s->status >= 200 && s->status < 300 && ct != nullptr &&
               strncasecmp(ct, "text/event-stream", 17) == 0;
    }
    if (s->sse) {
      s->parser.feed(chunk, [&](const SseEvent& ev) {
        s->got_event = true;
        if (ev.type == "message") deliver(ev.data);
      });
      // A POST or resume stream whose request got its answer has done its job.
      if (!s->standalone && !s->request_id.empty() && im.awaiting.count(s->request_id) == 0) {
        s->drop = true;
      }
    } else {
      size_t limit = s->status >= 200 && s->status < 300 ? kMaxBody : kMaxErrorBody;
      if (s->body.size() < limit) s->body.append(chunk.substr(0, limit - s->body.size()));
    }
  };
  auto onWrite = +[](char* data, size_t size, size_t n, void* ud) -> size_t {
    auto* s = static_cast<Stream*>(ud);
    if (s->drop) return 0;  // aborts the transfer
    auto* ctx = static_cast<WriteCtx*>(s->impl->write_ctx);
    ctx->on_data(s, std::string_view(data, size * n));
    return size * n;
  };
  im.write_ctx = &wctx;

  std::string no_proxy = "localhost,127.0.0.1,::1";
  if (const char* np = std::getenv("no_proxy"); np != nullptr && *np != '\0') {
    no_proxy += std::string(",") + np;
  } else if (const char* np2 = std::getenv("NO_PROXY"); np2 != nullptr && *np2 != '\0') {
    no_proxy += std::string(",") + np2;
  }

  auto addStream = [&](std::unique_ptr<Stream> s) {
    std::string session, version;
    {
      std::lock_guard<std::mutex> lock(mu_);
      session = session_id_;
      version = protocol_version_;
    }
    s->self = this;
    s->impl = &im;
    CURL* e = curl_easy_init();
    s->easy = e;
    curl_slist* h = nullptr;
    if (s->get) {
      h = curl_slist_append(h, "Accept: text/event-stream");
      if (!s->last_event_id.empty()) {
        h = curl_slist_append(h, ("Last-Event-ID: " + s->last_event_id).c_str());
      }
    } else {
      h = curl_slist_append(h, "Content-Type: application/json");
      h = curl_slist_append(h, "Accept: application/json, text/event-stream");
      h = curl_slist_append(h, "Expect:");
    }
    if (!session.empty()) h = curl_slist_append(h, ("Mcp-Session-Id: " + session).c_str());
    if (!version.empty()) h = curl_slist_append(h, ("MCP-Protocol-Version: " + version).c_str());
    for (const auto& [k, v] : options_.headers) h = curl_slist_append(h, (k + ": " + v).c_str());
    s->headers = h;
    curl_easy_setopt(e, CURLOPT_URL, options_.url.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_NOPROXY, no_proxy.c_str());
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, onHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, s.get());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, onWrite);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s.get());
    curl_easy_setopt(e, CURLOPT_PRIVATE, s.get());
    if (s->get) {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->payload.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(s->payload.size()));
    }
    curl_multi_add_handle(im.multi, e);
    im.streams.push_back(std::move(s));
  };
  auto removeStream = [&](Stream* s) {
    curl_multi_remove_handle(im.multi, s->easy);
    curl_easy_cleanup(s->easy);
    curl_slist_free_all(s->headers);
    im.streams.remove_if([&](const std::unique_ptr<Stream>& p) { return p.get() == s; });
  };
  auto schedule = [&](bool standalone, const std::string& request_id, const std::string& last_id,
                      std::chrono::milliseconds delay, int attempt) {
    im.timers.push_back({Clock::now() + delay, standalone, request_id, last_id, attempt});
  };
  auto openGet = [&](bool standalone, const std::string& request_id, const std::string& last_id,
                     int attempt) {
    auto s = std::make_unique<Stream>();
    s->get = true;
    s->standalone = standalone;
    s->request_id = request_id;
    s->last_event_id = last_id;
    s->attempt = attempt;
    addStream(std::move(s));
  };
  auto retryDelay = [&](const Stream& s) {
    auto r = s.parser.retryMs();
    return r ? std::chrono::milliseconds(*r) : options_.default_retry;
  };

  // A finished transfer: deliver, resume, fail or report.
  auto finish = [&](Stream* s, CURLcode rc) {
    bool has_session;
    {
      std::lock_guard<std::mutex> lock(mu_);
      has_session = !session_id_.empty();
    }
    if (!s->typed) curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
    const bool awaited = !s->request_id.empty() && im.awaiting.count(s->request_id) > 0;
    if (!s->get) {
      if (rc != CURLE_OK && !s->drop) {
        std::string why = std::string("HTTP request failed: ") + curl_easy_strerror(rc);
        if (s->sse && awaited && s->parser.sawEventId() && !unreachable(rc)) {
          schedule(false, s->request_id, s->parser.lastEventId(), retryDelay(*s), 1);
          return;
        }
        failRequest(s->request_id, why);
        if (unreachable(rc) || broken(rc)) reportClosed(why);
        return;
      }
      if (s->drop) return;
      if (has_session && sessionGone(s->status, s->body)) {
        std::string why = "MCP session expired (HTTP " + std::to_string(s->status) + ")";
        failRequest(s->request_id, why);
        reportClosed(why);
        return;
      }
      if (s->status < 200 || s->status >= 300) {
        auto doc = json::parse(s->body);
        if (doc.ok() && doc->IsObject() && doc->HasMember("error") && doc->HasMember("id") &&
            json::idText((*doc)["id"]) == s->request_id) {
          deliver(s->body);
        } else {
          failRequest(s->request_id, "HTTP " + std::to_string(s->status) + ": " + trimmed(s->body));
        }
        return;
      }
      if (!s->sse) {
        if (!s->body.empty()) deliver(s->body);
        if (!s->request_id.empty() && im.awaiting.count(s->request_id) > 0) {
          failRequest(s->request_id, "HTTP " + std::to_string(s->status) + " without a response");
        }
        return;
      }
      if (awaited) {  // the SSE stream ended before the response: resume it (SEP-1699)
        if (s->parser.sawEventId()) {
          schedule(false, s->request_id, s->parser.lastEventId(), retryDelay(*s), 1);
        } else {
          failRequest(s->request_id, "the server closed the response stream before answering");
        }
      }
      return;
    }
    // GET streams.
    if (s->standalone) {
      std::lock_guard<std::mutex> lock(mu_);
      get_answered_ = true;
      get_cv_.notify_all();
    }
    if (s->drop && !s->standalone) return;
    bool wanted = s->standalone || awaited;
    if (!wanted) return;
    std::string last_id = s->parser.sawEventId() ? s->parser.lastEventId() : s->last_event_id;
    int attempt = s->got_event ? 1 : s->attempt + 1;
    if (rc != CURLE_OK && unreachable(rc)) {
      std::string why = std::string("HTTP request failed: ") + curl_easy_strerror(rc);
      failRequest(s->request_id, why);
      reportClosed(why);
      return;
    }
    if (rc == CURLE_OK && (s->status < 200 || s->status >= 300)) {
      if (has_session && sessionGone(s->status, s->body)) {
        std::string why = "MCP session expired (HTTP " + std::to_string(s->status) + ")";
        failRequest(s->request_id, why);
        reportClosed(why);
        return;
      }
      if (s->standalone) {
        log(LogLevel::kDebug,
            "server offers no GET stream (HTTP " + std::to_string(s->status) + ")");
        im.standalone_open = false;
        im.standalone_disabled = true;
      } else {
        failRequest(s->request_id,
                    "resuming the response stream failed: HTTP " + std::to_string(s->status));
      }
      return;
    }
    if (attempt > options_.max_stream_retries) {
      if (s->standalone) {
        log(LogLevel::kWarn, "GET stream keeps failing; giving up on it");
        im.standalone_open = false;
      } else {
        failRequest(s->request_id, "the response stream could not be resumed");
      }
      return;
    }
    auto delay = retryDelay(*s);
    if (!s->got_event && attempt > 1) delay = std::max(delay, options_.default_retry * attempt);
    schedule(s->standalone, s->request_id, last_id, delay, attempt);
  };

  for (;;) {
    std::vector<Outgoing> out;
    std::vector<std::string> abandoned;
    bool open_get = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
      out.swap(queue_);
      abandoned.swap(abandoned_);
      open_get = open_get_;
      open_get_ = false;
    }
    for (auto& o : out) {
      auto s = std::make_unique<Stream>();
      s->payload = std::move(o.body);
      s->request_id = o.request_id;
      if (!o.request_id.empty()) im.awaiting.insert(o.request_id);
      addStream(std::move(s));
    }
    for (const auto& id : abandoned) {
      im.awaiting.erase(id);
      std::vector<Stream*> victims;
      for (auto& s : im.streams) {
        if (s->request_id == id && !s->standalone) victims.push_back(s.get());
      }
      for (Stream* s : victims) removeStream(s);
      im.timers.erase(std::remove_if(im.timers.begin(), im.timers.end(),
                                     [&](const Impl::Timer& t) { return t.request_id == id; }),
                      im.timers.end());
    }
    if (open_get && !im.standalone_open && !im.standalone_disabled) {
      im.standalone_open = true;
      openGet(true, "", "", 0);
    }
    auto now = Clock::now();
    for (size_t i = 0; i < im.timers.size();) {
      if (im.timers[i].at <= now) {
        Impl::Timer t = im.timers[i];
        im.timers.erase(im.timers.begin() + static_cast<long>(i));
        if (t.standalone || im.awaiting.count(t.request_id) > 0) {
          openGet(t.standalone, t.request_id, t.last_event_id, t.attempt);
        }
      } else {
        ++i;
      }
    }
    int running = 0;
    curl_multi_perform(im.multi, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(im.multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      Stream* s = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &s);
      CURLcode rc = m->data.result;
      finish(s, rc);
      removeStream(s);
    }
    // Streams dropped from inside callbacks.
    std::vector<Stream*> dropped;
    for (auto& s : im.streams) {
      if (s->drop && !s->standalone) dropped.push_back(s.get());
    }
    for (Stream* s : dropped) removeStream(s);

    int timeout_ms = 1000;
    now = Clock::now();
    for (const auto& t : im.timers) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.at - now).count() + 1;
      timeout_ms = static_cast<int>(std::clamp<int64_t>(ms, 0, timeout_ms));
    }
    curl_multi_poll(im.multi, nullptr, 0, timeout_ms, nullptr);
  }
  while (!im.streams.empty()) removeStream(im.streams.front().get());
}

void HttpTransport::close() {
  if (!started_ || closed_) return;
  closed_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    get_cv_.notify_all();
    if (impl_ != nullptr && impl_->multi != nullptr) curl_multi_wakeup(impl_->multi);
  }
  if (thread_.joinable()) thread_.join();
  std::string session = sessionId();
  if (!session.empty()) {  // end the session; a server that refuses (405) is fine
    CURL* e = curl_easy_init();
    curl_slist* h = curl_slist_append(nullptr, ("Mcp-Session-Id: " + session).c_str());
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!protocol_version_.empty()) {
        h = curl_slist_append(h, ("MCP-Protocol-Version: " + protocol_version_).c_str());
      }
    }
    for (const auto& [k, v] : options_.headers) h = curl_slist_append(h, (k + ": " + v).c_str());
    curl_easy_setopt(e, CURLOPT_URL, options_.url.c_str());
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
    curl_easy_setopt(
        e, CURLOPT_WRITEFUNCTION,
        +[](char*, size_t size, size_t n, void*) -> size_t { return size * n; });
    curl_easy_perform(e);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
  }
  if (impl_ != nullptr && impl_->multi != nullptr) {
    curl_multi_cleanup(impl_->multi);
    impl_->multi = nullptr;
  }
}

}  // namespace agentd::mcp
