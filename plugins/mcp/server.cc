#include "server.h"

#include <fnmatch.h>

#include <cstdlib>
#include <random>

#include "http_transport.h"
#include "json_util.h"
#include "stdio_transport.h"

namespace agentd::mcp {

namespace {

const char kSchema[] = R"({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "agentd MCP adapter",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "servers": {
      "description": "MCP servers by name ([mcp.servers.NAME]); tools are exposed as NAME__TOOL.",
      "type": "object",
      "propertyNames": {"pattern": "^[A-Za-z0-9-]+(_[A-Za-z0-9-]+)*$"},
      "additionalProperties": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
          "command": {"type": "string", "description": "stdio: the program to start."},
          "args": {"type": "array", "items": {"type": "string"}},
          "env": {"type": "object", "additionalProperties": {"type": "string"}},
          "cwd": {"type": "string"},
          "url": {"type": "string", "description": "Streamable HTTP endpoint."},
          "headers": {"type": "object", "additionalProperties": {"type": "string"}},
          "timeout_seconds": {"type": "integer", "minimum": 1, "maximum": 86400},
          "required": {"type": "boolean"},
          "allow": {"type": "array", "items": {"type": "string"}},
          "deny": {"type": "array", "items": {"type": "string"}},
          "elicitation": {"enum": ["defaults", "decline"]}
        }
      }
    }
  }
})";

bool validServerName(std::string_view n) {
  if (n.empty() || n.size() > 64 || n.find("__") != std::string_view::npos) return false;
  if (n.front() == '_' || n.back() == '_') return false;
  for (char c : n) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

Status stringList(const rapidjson::Value& v, const std::string& key,
                  std::vector<std::string>* out) {
  if (!v.IsArray()) return Status::invalidArgument(key + ": expected an array of strings");
  for (const auto& s : v.GetArray()) {
    if (!s.IsString()) return Status::invalidArgument(key + ": expected an array of strings");
    out->emplace_back(s.GetString(), s.GetStringLength());
  }
  return Status::ok();
}

Status stringMap(const rapidjson::Value& v, const std::string& key, bool expand,
                 std::map<std::string, std::string>* out) {
  if (!v.IsObject()) return Status::invalidArgument(key + ": expected a table of strings");
  for (const auto& m : v.GetObject()) {
    if (!m.value.IsString()) {
      return Status::invalidArgument(key + "." + m.name.GetString() + ": expected a string");
    }
    std::string value(m.value.GetString(), m.value.GetStringLength());
    if (expand) {
      auto e = expandEnv(value);
      if (!e.ok()) return e.status().withContext(key + "." + m.name.GetString());
      value = std::move(*e);
    }
    (*out)[m.name.GetString()] = std::move(value);
  }
  return Status::ok();
}

}  // namespace

const char* configSchema() { return kSchema; }

bool ServerSpec::exposes(std::string_view tool) const {
  std::string t(tool);
  auto matches = [&](const std::vector<std::string>& patterns) {
    for (const auto& p : patterns) {
      if (fnmatch(p.c_str(), t.c_str(), 0) == 0) return true;
    }
    return false;
  };
  if (!allow.empty() && !matches(allow)) return false;
  return !matches(deny);
}

Result<std::string> expandEnv(std::string_view value) {
  std::string out;
  size_t i = 0;
  while (i < value.size()) {
    size_t at = value.find("${", i);
    if (at == std::string_view::npos) {
      out.append(value.substr(i));
      break;
    }
    out.append(value.substr(i, at - i));
    size_t end = value.find('}', at + 2);
    if (end == std::string_view::npos) return Status::invalidArgument("unterminated ${...}");
    std::string name(value.substr(at + 2, end - at - 2));
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) {
      return Status::invalidArgument("environment variable " + name + " is not set");
    }
    out += v;
    i = end + 1;
  }
  return out;
}

Result<ServerSpec> parseServer(const std::string& name, const rapidjson::Value& t) {
  const std::string where = "servers." + name;
  if (!validServerName(name)) {
    return Status::invalidArgument(where +
                                   ": a server name is letters, digits, '-' and single "
                                   "'_' (no \"__\", which separates server and tool)");
  }
  if (!t.IsObject()) return Status::invalidArgument(where + ": expected a table");
  ServerSpec s;
  s.name = name;
  for (const auto& m : t.GetObject()) {
    std::string key = m.name.GetString();
    const rapidjson::Value& v = m.value;
    const std::string at = where + "." + key;
    Status st;
    auto str = [&](std::string* out) {
      if (!v.IsString()) return Status::invalidArgument(at + ": expected a string");
      out->assign(v.GetString(), v.GetStringLength());
      return Status::ok();
    };
    if (key == "command") {
      st = str(&s.command);
    } else if (key == "args") {
      st = stringList(v, at, &s.args);
    } else if (key == "env") {
      st = stringMap(v, at, false, &s.env);
    } else if (key == "cwd") {
      st = str(&s.cwd);
    } else if (key == "url") {
      st = str(&s.url);
    } else if (key == "headers") {
      st = stringMap(v, at, true, &s.headers);
    } else if (key == "timeout_seconds") {
      if (!v.IsInt() || v.GetInt() < 1 || v.GetInt() > 86400) {
        st = Status::invalidArgument(at + ": expected an integer from 1 to 86400");
      } else {
        s.timeout_seconds = v.GetInt();
      }
    } else if (key == "required") {
      if (!v.IsBool()) {
        st = Status::invalidArgument(at + ": expected true or false");
      } else {
        s.required = v.GetBool();
      }
    } else if (key == "allow") {
      st = stringList(v, at, &s.allow);
    } else if (key == "deny") {
      st = stringList(v, at, &s.deny);
    } else if (key == "elicitation") {
      std::string e;
      st = str(&e);
      if (st.isOk() && e == "decline") {
        s.elicitation = ElicitationPolicy::kDecline;
      } else if (st.isOk() && e != "defaults") {
        st = Status::invalidArgument(at + ": expected \"defaults\" or \"decline\"");
      }
    } else {
      st = Status::invalidArgument(at + ": unknown key");
    }
    if (!st.isOk()) return st;
  }
  if (s.command.empty() == s.url.empty()) {
    return Status::invalidArgument(where + ": give either command (stdio) or url (HTTP)");
  }
  if (!s.url.empty() && s.url.rfind("http://", 0) != 0 && s.url.rfind("https://", 0) != 0) {
    return Status::invalidArgument(where + ".url: expected an http:// or https:// URL");
  }
  return s;
}

Result<std::map<std::string, ServerSpec>> parseConfig(std::string_view config_json) {
  auto doc = json::parse(config_json.empty() ? std::string_view("{}") : config_json);
  if (!doc.ok()) return doc.status().withContext("config");
  if (!doc->IsObject()) return Status::invalidArgument("config: expected a JSON object");
  std::map<std::string, ServerSpec> out;
  for (const auto& m : doc->GetObject()) {
    std::string key = m.name.GetString();
    if (key != "servers") return Status::invalidArgument(key + ": unknown key");
    if (!m.value.IsObject()) return Status::invalidArgument("servers: expected a table");
    for (const auto& s : m.value.GetObject()) {
      auto spec = parseServer(s.name.GetString(), s.value);
      if (!spec.ok()) return spec.status();
      out.emplace(spec->name, std::move(*spec));
    }
  }
  return out;
}

std::unique_ptr<Transport> makeTransport(const ServerSpec& spec) {
  if (!spec.url.empty()) {
    HttpOptions o;
    o.url = spec.url;
    o.headers = spec.headers;
    o.connect_timeout =
        std::chrono::milliseconds(std::min<int64_t>(10000, int64_t{spec.timeout_seconds} * 1000));
    return std::make_unique<HttpTransport>(std::move(o));
  }
  StdioOptions o;
  o.command = spec.command;
  o.args = spec.args;
  o.env = spec.env;
  o.cwd = spec.cwd;
  return std::make_unique<StdioTransport>(std::move(o));
}

ManagedServer::ManagedServer(ServerSpec spec, Hooks hooks, Options options)
    : spec_(std::move(spec)), hooks_(std::move(hooks)), options_(options) {}

ManagedServer::~ManagedServer() { stop(); }

void ManagedServer::log(LogLevel level, const std::string& m) const {
  if (hooks_.log) hooks_.log(level, m);
}

void ManagedServer::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

bool ManagedServer::waitFirstAttempt(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return first_attempt_done_ || stop_; });
  return client_ != nullptr;
}

void ManagedServer::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ManagedServer::up() const {
  std::lock_guard<std::mutex> lock(mu_);
  return client_ != nullptr && !lost_;
}

std::string ManagedServer::lastError() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

std::vector<ToolInfo> ManagedServer::tools() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tools_;
}

bool ManagedServer::sleepFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stop_; });
}

void ManagedServer::run() {
  std::mt19937 rng(std::random_device{}());
  int failures = 0;
  bool ever_up = false;
  const auto timeout = std::chrono::milliseconds(int64_t{spec_.timeout_seconds} * 1000);
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
      lost_ = false;
      list_changed_ = false;
    }
    ClientOptions co;
    co.request_timeout = timeout;
    co.max_request_timeout = std::max(timeout * 10, std::chrono::milliseconds(600000));
    co.elicitation = spec_.elicitation;
    co.log = hooks_.log;
    co.on_operation = hooks_.operation;
    co.on_tools_changed = [this] {
      {
        std::lock_guard<std::mutex> lock(mu_);
        list_changed_ = true;
      }
      cv_.notify_all();
    };
    co.on_closed = [this](const Status& why) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        lost_ = true;
        last_error_ = why.message();
      }
      cv_.notify_all();
    };
    auto client = std::make_shared<Client>(makeTransport(spec_), std::move(co));
    CallOptions stoppable;
    stoppable.cancelled = [this] {
      std::lock_guard<std::mutex> lock(mu_);
      return stop_;
    };
    Status st = client->connect(timeout, stoppable.cancelled);
    Result<std::vector<ToolInfo>> listed = Status::unavailable("not listed");
    if (st.isOk()) {
      listed = client->listTools(stoppable);
      st = listed.status();
    }
    if (st.isOk()) {
      std::vector<ToolInfo> exposed;
      for (auto& t : *listed) {
        if (spec_.exposes(t.name)) exposed.push_back(std::move(t));
      }
      std::string pid;
      if (auto* stdio = dynamic_cast<StdioTransport*>(&client->transport())) {
        pid = ", pid " + std::to_string(stdio->pid());
      }
      log(LogLevel::kInfo, "connected (" + std::string(client->transport().kind()) + pid +
                               ", protocol " + client->protocolVersion() + ", server " +
                               client->serverName() + " " + client->serverVersion() + ", " +
                               std::to_string(exposed.size()) + " tools)");
      size_t count = exposed.size();
      {
        std::lock_guard<std::mutex> lock(mu_);
        client_ = client;
        tools_ = std::move(exposed);
        last_error_.clear();
        first_attempt_done_ = true;
      }
      cv_.notify_all();
      auto connected_at = std::chrono::steady_clock::now();
      if (hooks_.up_changed) hooks_.up_changed(true);
      if (hooks_.tool_count) hooks_.tool_count(count);
      if (hooks_.tools_changed) hooks_.tools_changed();
      ever_up = true;
      // Serve until the connection is lost or we are stopped; refresh lists on request.
      for (;;) {
        bool relist = false;
        bool idle = false;
        {
          std::unique_lock<std::mutex> lock(mu_);
          auto woken = [&] { return stop_ || lost_ || list_changed_; };
          if (spec_.url.empty()) {
            cv_.wait(lock, woken);
          } else {
            idle = !cv_.wait_for(lock, options_.ping_interval, woken);
          }
          if (stop_ || lost_) break;
          relist = list_changed_;
          list_changed_ = false;
        }
        if (idle) {  // HTTP has no process to watch: check the server still answers
          CallOptions ping = stoppable;
          ping.timeout = std::min(timeout, std::chrono::milliseconds(10000));
          Status alive = client->ping(ping);
          if (alive.code() == Status::Code::kUnavailable ||
              alive.code() == Status::Code::kDeadlineExceeded) {
            std::lock_guard<std::mutex> lock(mu_);
            lost_ = true;
            last_error_ = "ping failed: " + alive.message();
            break;
          }
          continue;
        }
        if (relist) {
          auto fresh = client->listTools(stoppable);
          if (!fresh.ok()) {
            log(LogLevel::kWarn,
                "refreshing tools after list_changed failed: " + fresh.status().message());
            continue;
          }
          std::vector<ToolInfo> exposed2;
          for (auto& t : *fresh) {
            if (spec_.exposes(t.name)) exposed2.push_back(std::move(t));
          }
          bool changed;
          size_t n = exposed2.size();
          {
            std::lock_guard<std::mutex> lock(mu_);
            changed = exposed2 != tools_;
            if (changed) tools_ = std::move(exposed2);
          }
          log(LogLevel::kInfo, std::string("tool list changed on the server") +
                                   (changed ? "; now " + std::to_string(n) + " tools"
                                            : "; exposed tools unchanged"));
          if (changed && hooks_.tool_count) hooks_.tool_count(n);
          if (changed && hooks_.tools_changed) hooks_.tools_changed();
        }
      }
      bool stopping;
      std::string why;
      {
        std::lock_guard<std::mutex> lock(mu_);
        client_.reset();
        stopping = stop_;
        why = last_error_;
      }
      if (hooks_.up_changed) hooks_.up_changed(false);
      if (!stopping) log(LogLevel::kWarn, "connection lost: " + why + "; reconnecting");
      // A server that keeps dying soon after starting backs off like one that fails to start.
      bool short_lived = std::chrono::steady_clock::now() - connected_at < std::chrono::seconds(10);
      failures = short_lived ? failures + 1 : 0;
      client->close();
      if (stopping) break;
    } else {
      client->close();
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) break;  // stopped while connecting: nothing failed
      }
      log(LogLevel::kError,
          std::string(ever_up ? "reconnect" : "connect") + " failed: " + st.message());
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_error_ = st.message();
        first_attempt_done_ = true;
      }
      cv_.notify_all();
      ++failures;
    }
    // Backoff: immediate retry after losing a long-lived connection, else exponential, jittered.
    auto base = failures == 0
                    ? std::chrono::milliseconds(0)
                    : std::min<std::chrono::milliseconds>(
                          options_.backoff_max,
                          options_.backoff_initial * (int64_t{1} << std::min(failures - 1, 16)));
    auto jitter = base.count() > 0
                      ? std::chrono::milliseconds(
                            std::uniform_int_distribution<int64_t>(0, base.count() / 5)(rng))
                      : std::chrono::milliseconds(0);
    if (!sleepFor(base + jitter)) break;
    if (hooks_.reconnecting) hooks_.reconnecting();
  }
  std::lock_guard<std::mutex> lock(mu_);
  client_.reset();
}

Result<ToolCallResult> ManagedServer::call(std::string_view tool, std::string_view args_json,
                                           const CallOptions& options) {
  auto timeout = options.timeout.count() > 0
                     ? options.timeout
                     : std::chrono::milliseconds(int64_t{spec_.timeout_seconds} * 1000);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::shared_ptr<Client> client;
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto down = [&] { return client_ == nullptr || lost_; };
    while (down() && !stop_) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      cv_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(50)));
      if (down() && options.cancelled) {
        lock.unlock();
        bool c = options.cancelled();
        lock.lock();
        if (c) return Status::cancelled("cancelled while waiting for server " + spec_.name);
      }
    }
    if (down()) {
      return Status::unavailable("MCP server " + spec_.name + " is not connected: " + last_error_);
    }
    client = client_;
  }
  return client->callTool(tool, args_json, options);
}

}  // namespace agentd::mcp
