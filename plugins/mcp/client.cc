#include "client.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "json_util.h"

namespace agentd::mcp {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kMaxPages = 1000;

double seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Inserts "_meta":{"progressToken":token} into the object text params ("" means {}).
std::string withProgressToken(std::string_view params, const std::string& token) {
  std::string meta = R"("_meta":{"progressToken":)" + token + "}";
  size_t open = params.find('{');
  if (params.empty() || open == std::string_view::npos) return "{" + meta + "}";
  size_t next = params.find_first_not_of(" \t\r\n", open + 1);
  bool empty = next == std::string_view::npos || params[next] == '}';
  std::string out;
  out.reserve(params.size() + meta.size() + 1);
  out.append(params.substr(0, open + 1));
  out.append(meta);
  if (!empty) out.push_back(',');
  out.append(params.substr(open + 1));
  return out;
}

LogLevel levelOf(const std::string& mcp_level) {
  if (mcp_level == "debug") return LogLevel::kDebug;
  if (mcp_level == "info" || mcp_level == "notice") return LogLevel::kInfo;
  if (mcp_level == "warning") return LogLevel::kWarn;
  return LogLevel::kError;
}

}  // namespace

const std::vector<std::string>& supportedProtocolVersions() {
  static const std::vector<std::string> versions = {"2025-11-25", "2025-06-18", "2025-03-26"};
  return versions;
}

ToolCallResult mapToolResult(const rapidjson::Value& result) {
  ToolCallResult r;
  r.is_error = json::getBool(result, "isError");
  const rapidjson::Value* content = json::member(result, "content");
  const rapidjson::Value* structured = json::member(result, "structuredContent");
  bool all_text = true;
  std::string text;
  if (content != nullptr && content->IsArray()) {
    for (const auto& block : content->GetArray()) {
      if (json::getString(block, "type") != "text") {
        all_text = false;
        break;
      }
      if (!text.empty()) text.push_back('\n');
      text += json::getString(block, "text");
    }
  }
  if (all_text && (structured == nullptr || structured->IsNull())) {
    r.output = std::move(text);
    return r;
  }
  r.is_json = true;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("content");
  if (content != nullptr && content->IsArray()) {
    content->Accept(w);
  } else {
    w.StartArray();
    w.EndArray();
  }
  if (structured != nullptr && !structured->IsNull()) {
    w.Key("structuredContent");
    structured->Accept(w);
  }
  w.EndObject();
  r.output.assign(buf.GetString(), buf.GetSize());
  return r;
}

std::string answerElicitation(const rapidjson::Value& params, ElicitationPolicy policy) {
  const std::string kDecline = R"({"action":"decline"})";
  if (policy == ElicitationPolicy::kDecline) return kDecline;
  if (json::getString(params, "mode", "form") != "form") return kDecline;
  const rapidjson::Value* schema = json::member(params, "requestedSchema");
  const rapidjson::Value* props = schema == nullptr ? nullptr : json::member(*schema, "properties");
  if (props == nullptr || !props->IsObject() || props->MemberCount() == 0) return kDecline;
  rapidjson::Document content(rapidjson::kObjectType);
  auto& alloc = content.GetAllocator();
  for (const auto& p : props->GetObject()) {
    const rapidjson::Value* def = json::member(p.value, "default");
    if (def == nullptr) continue;
    content.AddMember(rapidjson::Value(p.name, alloc), rapidjson::Value(*def, alloc), alloc);
  }
  if (content.MemberCount() == 0) return kDecline;  // nothing to answer with: no consent inferred
  if (const rapidjson::Value* req = json::member(*schema, "required"); req && req->IsArray()) {
    for (const auto& name : req->GetArray()) {
      if (!name.IsString() || !content.HasMember(name.GetString())) return kDecline;
    }
  }
  return R"({"action":"accept","content":)" + json::write(content) + "}";
}

Client::Client(std::unique_ptr<Transport> transport, ClientOptions options)
    : transport_(std::move(transport)), options_(std::move(options)) {}

Client::~Client() { close(); }

void Client::log(LogLevel level, std::string_view message) const {
  if (options_.log) options_.log(level, message);
}

std::string Client::protocolVersion() const {
  std::lock_guard<std::mutex> lock(mu_);
  return protocol_version_;
}
std::string Client::serverName() const {
  std::lock_guard<std::mutex> lock(mu_);
  return server_name_;
}
std::string Client::serverVersion() const {
  std::lock_guard<std::mutex> lock(mu_);
  return server_version_;
}
bool Client::serverListsChange() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lists_change_;
}

Status Client::connect(std::chrono::milliseconds timeout, std::function<bool()> cancelled) {
  if (started_) return Status::internal("connect() called twice");
  started_ = true;
  Transport::Callbacks cb;
  cb.on_message = [this](std::string_view m) { onMessage(m); };
  cb.on_closed = [this](const Status& why) { onClosed(why); };
  cb.log = options_.log;
  Status st = transport_->start(std::move(cb));
  if (!st.isOk()) return st;

  std::string params = R"({"protocolVersion":)" + json::quote(supportedProtocolVersions()[0]) +
                       R"(,"capabilities":{"elicitation":{"form":{}}},"clientInfo":{"name":)" +
                       json::quote(options_.client_name) + R"(,"version":)" +
                       json::quote(options_.client_version) + "}}";
  CallOptions init;
  init.timeout = timeout;
  init.cancelled = std::move(cancelled);
  auto resp = requestImpl("initialize", params, init, /*cancellable=*/false);
  if (!resp.ok()) return resp.status().withContext("initialize");
  const rapidjson::Value& result = (*resp)["result"];
  std::string version = json::getString(result, "protocolVersion");
  const auto& supported = supportedProtocolVersions();
  if (std::find(supported.begin(), supported.end(), version) == supported.end()) {
    return Status::protocol("server chose protocol version \"" + version +
                            "\", which this client does not speak (it speaks 2025-11-25, "
                            "2025-06-18, 2025-03-26)");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    protocol_version_ = version;
    if (const rapidjson::Value* info = json::member(result, "serverInfo")) {
      server_name_ = json::getString(*info, "name");
      server_version_ = json::getString(*info, "version");
    }
    if (const rapidjson::Value* caps = json::member(result, "capabilities")) {
      if (const rapidjson::Value* tools = json::member(*caps, "tools")) {
        lists_change_ = json::getBool(*tools, "listChanged");
      }
    }
  }
  transport_->setProtocolVersion(version);
  st = notify("notifications/initialized", "");
  if (!st.isOk()) return st.withContext("initialized");
  connected_.store(true);
  transport_->initialized();
  return Status::ok();
}

Status Client::notify(std::string_view method, std::string_view params_json) {
  std::string m = R"({"jsonrpc":"2.0","method":)" + json::quote(method);
  if (!params_json.empty()) {
    m += ",\"params\":";
    m.append(params_json);
  }
  m += "}";
  return transport_->send(std::move(m), "");
}

Result<rapidjson::Document> Client::request(std::string_view method, std::string_view params_json,
                                            const CallOptions& options) {
  return requestImpl(method, params_json, options, true);
}

Result<rapidjson::Document> Client::requestImpl(std::string_view method,
                                                std::string_view params_json,
                                                const CallOptions& options, bool cancellable) {
  auto start = Clock::now();
  auto p = std::make_shared<Pending>();
  p->on_progress = options.on_progress;
  std::string id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_.load()) {
      return Status::unavailable(closed_reason_.isOk() ? "client closed"
                                                       : closed_reason_.message());
    }
    id = std::to_string(next_id_++);
    pending_.emplace(id, p);
  }
  std::string m = R"({"jsonrpc":"2.0","id":)" + id + R"(,"method":)" + json::quote(method);
  if (options.on_progress) {
    m += ",\"params\":" + withProgressToken(params_json, id);
  } else if (!params_json.empty()) {
    m += ",\"params\":";
    m.append(params_json);
  }
  m += "}";

  auto finish = [&](Result<rapidjson::Document> r) -> Result<rapidjson::Document> {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.erase(id);
    }
    {
      std::lock_guard<std::mutex> lock(p->cb_mu);
      p->finished = true;
    }
    if (options_.on_operation) options_.on_operation(method, seconds(start), r.ok());
    return r;
  };

  Status st = transport_->send(std::move(m), id);
  if (!st.isOk()) return finish(st);

  auto timeout = options.timeout.count() > 0 ? options.timeout : options_.request_timeout;
  auto hard = start + std::max(timeout, options_.max_request_timeout);
  auto deadline = std::min(start + timeout, hard);
  std::string stop_reason;
  {
    std::unique_lock<std::mutex> lock(mu_);
    while (!p->done) {
      if (closed_.load()) break;
      auto now = Clock::now();
      if (p->progressed) {  // progress resets the timeout, up to the hard maximum
        p->progressed = false;
        deadline = std::min(now + timeout, hard);
      }
      if (now >= deadline) {
        stop_reason = "timeout";
        break;
      }
      auto wake = deadline;
      if (options.cancelled) wake = std::min(wake, now + std::chrono::milliseconds(20));
      p->cv.wait_until(lock, wake);
      if (!p->done && options.cancelled) {
        lock.unlock();
        bool c = options.cancelled();
        lock.lock();
        if (c && !p->done) {
          stop_reason = "cancelled";
          break;
        }
      }
    }
    if (!p->done && stop_reason.empty()) {
      Status why =
          closed_reason_.isOk() ? Status::unavailable("connection closed") : closed_reason_;
      lock.unlock();
      return finish(Status::unavailable(why.message()));
    }
  }
  if (!stop_reason.empty()) {
    if (cancellable) {
      std::string reason = stop_reason == "timeout" ? "request timed out" : "cancelled by agentd";
      notify("notifications/cancelled",
             R"({"requestId":)" + id + R"(,"reason":)" + json::quote(reason) + "}");
      transport_->abandon(id);
    }
    if (stop_reason == "timeout") {
      return finish(Status::deadlineExceeded(std::string(method) + " timed out after " +
                                             std::to_string(seconds(start)).substr(0, 5) + " s"));
    }
    return finish(Status::cancelled(std::string(method) + " cancelled"));
  }
  rapidjson::Document resp = std::move(p->response);
  if (const rapidjson::Value* err = json::member(resp, "error")) {
    std::string msg = json::getString(*err, "message", "error");
    int64_t code = json::getInt(*err, "code", 0);
    return finish(Status::remote(msg + " (code " + std::to_string(code) + ")"));
  }
  if (!resp.HasMember("result")) return finish(Status::protocol("response without result"));
  return finish(std::move(resp));
}

void Client::onMessage(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) {
    log(LogLevel::kWarn, "ignored a message that is not JSON");
    return;
  }
  if (doc.IsArray()) {
    for (auto& v : doc.GetArray()) handleOne(doc, v);
  } else {
    handleOne(doc, doc);
  }
}

void Client::handleOne(rapidjson::Document& doc, rapidjson::Value& msg) {
  if (!msg.IsObject()) return;
  const rapidjson::Value* method = json::member(msg, "method");
  const rapidjson::Value* idv = json::member(msg, "id");
  if (method == nullptr) {  // a response
    if (idv == nullptr) return;
    std::string id = json::idText(*idv);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;  // late (cancelled, timed out) or unknown: ignored
    auto& p = *it->second;
    if (&msg == &doc) {
      p.response = std::move(doc);
    } else {
      p.response.CopyFrom(msg, p.response.GetAllocator());
    }
    p.done = true;
    p.cv.notify_one();
    return;
  }
  if (!method->IsString()) return;
  std::string m(method->GetString(), method->GetStringLength());
  static const rapidjson::Value kEmpty(rapidjson::kObjectType);
  const rapidjson::Value* params = json::member(msg, "params");
  if (params == nullptr) params = &kEmpty;
  if (idv != nullptr) {  // a request from the server
    std::string id = json::idText(*idv);
    if (id.empty()) return;
    if (m == "ping") {
      respond(id, "{}");
    } else if (m == "elicitation/create") {
      std::string answer = answerElicitation(*params, options_.elicitation);
      log(LogLevel::kInfo, "answered elicitation/create: " + answer.substr(0, 200));
      respond(id, answer);
    } else if (m == "roots/list") {
      respond(id, R"({"roots":[]})");
    } else {
      respondError(id, -32601, "method not supported by this client: " + m);
    }
    return;
  }
  if (m == "notifications/tools/list_changed") {
    if (options_.on_tools_changed) options_.on_tools_changed();
  } else if (m == "notifications/progress") {
    const rapidjson::Value* token = json::member(*params, "progressToken");
    if (token == nullptr) return;
    std::shared_ptr<Pending> p;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = pending_.find(json::idText(*token));
      if (it == pending_.end()) return;
      p = it->second;
      p->progressed = true;
    }
    const rapidjson::Value* progress = json::member(*params, "progress");
    const rapidjson::Value* total = json::member(*params, "total");
    double done = progress != nullptr && progress->IsNumber() ? progress->GetDouble() : 0;
    double all = total != nullptr && total->IsNumber() ? total->GetDouble() : 0;
    std::string message = json::getString(*params, "message");
    std::lock_guard<std::mutex> lock(p->cb_mu);
    if (!p->finished && p->on_progress) p->on_progress(done, all, message);
  } else if (m == "notifications/message") {
    std::string data;
    if (const rapidjson::Value* d = json::member(*params, "data")) {
      data = d->IsString() ? std::string(d->GetString(), d->GetStringLength()) : json::write(*d);
    }
    std::string logger = json::getString(*params, "logger");
    log(levelOf(json::getString(*params, "level", "info")),
        "server log" + (logger.empty() ? "" : " (" + logger + ")") + ": " + data);
  }
}

void Client::respond(const std::string& id, const std::string& result_json) {
  transport_->send(R"({"jsonrpc":"2.0","id":)" + id + R"(,"result":)" + result_json + "}", "");
}

void Client::respondError(const std::string& id, int code, const std::string& message) {
  transport_->send(R"({"jsonrpc":"2.0","id":)" + id + R"(,"error":{"code":)" +
                       std::to_string(code) + R"(,"message":)" + json::quote(message) + "}}",
                   "");
}

void Client::onClosed(const Status& why) {
  // The owner hears of the loss before any waiting request fails with it, so a caller that
  // retries after the failure already finds the session marked lost.
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_reason_.isOk()) closed_reason_ = why;
  }
  if (connected_.exchange(false) && options_.on_closed) options_.on_closed(why);
  std::lock_guard<std::mutex> lock(mu_);
  closed_.store(true);
  for (auto& [id, p] : pending_) p->cv.notify_one();
}

void Client::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_reason_.isOk()) closed_reason_ = Status::unavailable("client closed");
    closed_.store(true);
    connected_.store(false);
    for (auto& [id, p] : pending_) p->cv.notify_one();
  }
  transport_->close();
}

Result<std::vector<ToolInfo>> Client::listTools(const CallOptions& options) {
  std::vector<ToolInfo> tools;
  std::string cursor;
  for (int page = 0; page < kMaxPages; ++page) {
    std::string params = cursor.empty() ? "{}" : R"({"cursor":)" + json::quote(cursor) + "}";
    auto resp = request("tools/list", params, options);
    if (!resp.ok()) return resp.status().withContext("tools/list");
    const rapidjson::Value& result = (*resp)["result"];
    const rapidjson::Value* list = json::member(result, "tools");
    if (list == nullptr || !list->IsArray()) return Status::protocol("tools/list without tools");
    for (const auto& t : list->GetArray()) {
      ToolInfo info;
      info.name = json::getString(t, "name");
      if (info.name.empty()) continue;
      info.title = json::getString(t, "title");
      info.description = json::getString(t, "description");
      const rapidjson::Value* schema = json::member(t, "inputSchema");
      info.input_schema =
          schema != nullptr && schema->IsObject() ? json::write(*schema) : R"({"type":"object"})";
      tools.push_back(std::move(info));
    }
    std::string next = json::getString(result, "nextCursor");
    if (next.empty()) return tools;
    if (next == cursor) return Status::protocol("tools/list repeated its cursor");
    cursor = std::move(next);
  }
  return Status::protocol("tools/list has more than 1000 pages");
}

Result<ToolCallResult> Client::callTool(std::string_view name, std::string_view args_json,
                                        const CallOptions& options) {
  std::string params = R"({"name":)" + json::quote(name) + R"(,"arguments":)";
  params.append(args_json.empty() ? std::string_view("{}") : args_json);
  params += "}";
  auto resp = request("tools/call", params, options);
  if (!resp.ok()) return resp.status();
  return mapToolResult((*resp)["result"]);
}

Status Client::ping(const CallOptions& options) {
  auto resp = request("ping", "", options);
  return resp.ok() ? Status::ok() : resp.status();
}

}  // namespace agentd::mcp
