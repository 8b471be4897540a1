// Plugin "mcp": the MCP adapter. Connects to the MCP servers of its config ({"servers": {NAME:
// {...}}}, the host's [mcp.servers.*] tables), supervises them, and offers their tools to agents
// as NAME__TOOL. Written against the raw C ABI (plugin.h) so that health() can report its
// reason through last_error(); plugin.hpp's Host/Call/ToolList helpers wrap the host table.
#include <agentd/plugin.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "server.h"

namespace agentd::mcp {
namespace {

using agentd::sdk::Host;
using agentd::sdk::Metric;
using agentd::sdk::toStr;
using agentd::sdk::view;

constexpr const char* kSeparator = "__";

bool validExposedName(const std::string& n) {
  if (n.empty() || n.size() > 128) return false;
  for (char c : n) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

agentd_log_level hostLevel(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return AGENTD_LOG_DEBUG;
    case LogLevel::kInfo:
      return AGENTD_LOG_INFO;
    case LogLevel::kWarn:
      return AGENTD_LOG_WARN;
    case LogLevel::kError:
      return AGENTD_LOG_ERROR;
  }
  return AGENTD_LOG_INFO;
}

agentd_status statusOf(const Status& st) {
  switch (st.code()) {
    case Status::Code::kOk:
      return AGENTD_OK;
    case Status::Code::kInvalidArgument:
      return AGENTD_EINVAL;
    case Status::Code::kNotFound:
      return AGENTD_ENOTFOUND;
    case Status::Code::kDeadlineExceeded:
      return AGENTD_ETIMEDOUT;
    case Status::Code::kCancelled:
      return AGENTD_ECANCELED;
    default:
      return AGENTD_ERR;
  }
}

class Adapter {
 public:
  Adapter(const agentd_host_api* api, agentd_host* host) : api_(api), host_(api, host) {}

  ~Adapter() {
    std::map<std::string, std::shared_ptr<ManagedServer>> servers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      servers.swap(servers_);
    }
    std::vector<std::shared_ptr<ManagedServer>> all;
    for (auto& [name, s] : servers) all.push_back(s);
    stopAll(all);
    joinRetired(true);
  }

  // Defines the metrics and starts the servers; waits for their first connection attempts.
  Status init(std::string_view config_json) {
    auto specs = parseConfig(config_json);
    if (!specs.ok()) return specs.status();
    try {
      op_duration_ = host_.defineMetric(
          AGENTD_METRIC_HISTOGRAM, "mcp_client_operation_duration_seconds",
          "Duration of MCP requests sent to a server, by method.", {"server", "method"});
      up_ = host_.defineMetric(AGENTD_METRIC_GAUGE, "mcp_server_up",
                               "1 while the MCP server is connected and initialized.", {"server"});
      reconnects_ =
          host_.defineMetric(AGENTD_METRIC_COUNTER, "mcp_reconnects_total",
                             "Reconnection (restart) attempts of an MCP server.", {"server"});
      tools_ = host_.defineMetric(AGENTD_METRIC_GAUGE, "mcp_tools",
                                  "Tools an MCP server exposes to agents (after allow/deny).",
                                  {"server"});
    } catch (const std::exception& e) {
      return Status::internal(e.what());
    }
    apply(std::move(*specs));
    ready_.store(true);
    return Status::ok();
  }

  Status reconfigure(std::string_view config_json) {
    auto specs = parseConfig(config_json);
    if (!specs.ok()) return specs.status();
    apply(std::move(*specs));
    host_.toolsChanged();
    return Status::ok();
  }

  void listTools(agentd_list* list) {
    std::vector<std::shared_ptr<ManagedServer>> servers = snapshot();
    for (const auto& s : servers) {
      for (const auto& t : s->tools()) {
        std::string name = s->spec().name + kSeparator + t.name;
        if (!validExposedName(name)) {
          warnOnce(name, "tool '" + t.name + "' of MCP server " + s->spec().name +
                             " is not exposed: '" + name +
                             "' is not a valid agentd tool name ([A-Za-z0-9_.-], <= 128)");
          continue;
        }
        std::string description = t.description.empty() ? t.title : t.description;
        api_->add_tool(list, toStr(name), toStr(description), toStr(t.input_schema));
      }
    }
  }

  agentd_status invoke(agentd_call* call, std::string_view tool, std::string_view args) {
    size_t sep = tool.find(kSeparator);
    if (sep == std::string_view::npos) return fail(call, AGENTD_ENOTFOUND, "unknown tool");
    std::string server(tool.substr(0, sep));
    std::string name(tool.substr(sep + 2));
    std::shared_ptr<ManagedServer> s;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = servers_.find(server);
      if (it != servers_.end()) s = it->second;
    }
    if (s == nullptr) {
      return fail(call, AGENTD_ENOTFOUND, "unknown MCP server '" + server + "'");
    }
    if (!s->spec().exposes(name)) {
      return fail(call, AGENTD_ENOTFOUND,
                  "tool '" + name + "' of MCP server " + server + " is not allowed");
    }
    CallOptions opts;
    const agentd_host_api* api = api_;
    opts.on_progress = [api, call](double done, double total, std::string_view message) {
      api->progress(call, done, total, toStr(message));
    };
    opts.cancelled = [api, call] { return api->is_cancelled(call) != 0; };
    auto r = s->call(name, args, opts);
    if (!r.ok()) return fail(call, statusOf(r.status()), r.status().message());
    if (r->is_error) {
      return fail(call, AGENTD_ERR, r->output.empty() ? "the tool reported an error" : r->output);
    }
    agentd_status st = r->is_json ? api_->emit_json(call, toStr(r->output))
                                  : api_->emit_text(call, toStr(r->output));
    if (st != AGENTD_OK) return fail(call, st, "output rejected by host");
    return AGENTD_OK;
  }

  // OK unless a required server is down; the reason goes to last_error().
  agentd_status health() {
    std::string problem;
    for (const auto& s : snapshot()) {
      if (s->spec().required && !s->up()) {
        if (!problem.empty()) problem += "; ";
        problem += "required MCP server " + s->spec().name + " is down: " + s->lastError();
      }
    }
    std::lock_guard<std::mutex> lock(error_mu_);
    health_error_ = problem;
    return problem.empty() ? AGENTD_OK : AGENTD_ERR;
  }

  // REQUIRES: the control thread (last_error's contract).
  const char* lastError() {
    std::lock_guard<std::mutex> lock(error_mu_);
    returned_error_ = !control_error_.empty() ? control_error_ : health_error_;
    return returned_error_.c_str();
  }
  void setControlError(std::string e) {
    std::lock_guard<std::mutex> lock(error_mu_);
    control_error_ = std::move(e);
  }

  agentd_status fail(agentd_call* call, agentd_status st, const std::string& message) {
    api_->set_error(call, toStr(message));
    return st;
  }

 private:
  std::vector<std::shared_ptr<ManagedServer>> snapshot() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::shared_ptr<ManagedServer>> v;
    for (auto& [n, s] : servers_) v.push_back(s);
    return v;
  }

  void warnOnce(const std::string& key, const std::string& message) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!warned_.insert(key).second) return;
    }
    host_.warn(message);
  }

  std::shared_ptr<ManagedServer> make(const ServerSpec& spec) {
    ManagedServer::Hooks h;
    std::string name = spec.name;
    Host host = host_;
    h.log = [host, name](LogLevel level, std::string_view m) {
      host.log(hostLevel(level), "mcp server " + name + ": " + std::string(m));
    };
    h.tools_changed = [this] {
      if (ready_.load()) host_.toolsChanged();
    };
    Metric up = up_, tools = tools_, reconnects = reconnects_, op = op_duration_;
    h.up_changed = [up, name](bool is_up) { up.record(is_up ? 1 : 0, {name}); };
    h.tool_count = [tools, name](size_t n) { tools.record(static_cast<double>(n), {name}); };
    h.reconnecting = [reconnects, name] { reconnects.record(1, {name}); };
    // The series exists from the start (at 0), so increase() and rate() alerts see the first
    // reconnect instead of a series appearing out of nowhere.
    reconnects.record(0, {name});
    h.operation = [op, name](std::string_view method, double secs, bool) {
      op.record(secs, {name, method});
    };
    return std::make_shared<ManagedServer>(spec, std::move(h));
  }

  // Makes the running servers match specs: removed and changed ones stop (in the background),
  // added and changed ones start; waits (bounded by their timeouts) for the new ones.
  void apply(std::map<std::string, ServerSpec> specs) {
    std::vector<std::shared_ptr<ManagedServer>> retired, started;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = servers_.begin(); it != servers_.end();) {
        auto want = specs.find(it->first);
        if (want == specs.end() || !(want->second == it->second->spec())) {
          retired.push_back(it->second);
          it = servers_.erase(it);
        } else {
          ++it;
        }
      }
      for (auto& [name, spec] : specs) {
        if (servers_.count(name) > 0) continue;
        auto s = make(spec);
        servers_.emplace(name, s);
        started.push_back(s);
      }
    }
    for (auto& s : retired) {
      up_.record(0, {s->spec().name});
      tools_.record(0, {s->spec().name});
      host_.info("mcp server " + s->spec().name + ": disconnecting (removed or changed)");
    }
    if (!retired.empty()) {
      std::lock_guard<std::mutex> lock(retire_mu_);
      retiring_.emplace_back([retired]() mutable { stopAll(retired); });
    }
    for (auto& s : started) {
      up_.record(0, {s->spec().name});
      s->start();
    }
    for (auto& s : started) {
      s->waitFirstAttempt(std::chrono::seconds(s->spec().timeout_seconds) +
                          std::chrono::seconds(1));
    }
    joinRetired(false);
  }

  // Stops servers in parallel (each may wait for its process to exit).
  static void stopAll(std::vector<std::shared_ptr<ManagedServer>>& servers) {
    std::vector<std::thread> threads;
    for (auto& s : servers) threads.emplace_back([s] { s->stop(); });
    for (auto& t : threads) t.join();
    servers.clear();
  }

  // Joins finished retirement threads (all of them when wait).
  void joinRetired(bool wait) {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(retire_mu_);
      threads.swap(retiring_);
    }
    if (!wait && threads.size() < 8) {  // keep recent ones running; join them later
      std::lock_guard<std::mutex> lock(retire_mu_);
      for (auto& t : threads) retiring_.push_back(std::move(t));
      return;
    }
    for (auto& t : threads) t.join();
  }

  const agentd_host_api* api_;
  Host host_;
  Metric op_duration_, up_, reconnects_, tools_;
  std::atomic<bool> ready_{false};
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<ManagedServer>> servers_;
  std::set<std::string> warned_;
  std::mutex retire_mu_;
  std::vector<std::thread> retiring_;
  std::mutex error_mu_;
  std::string control_error_, health_error_, returned_error_;
};

Adapter* cast(agentd_instance* i) { return reinterpret_cast<Adapter*>(i); }

std::string& createError() {
  static std::string error;
  return error;
}

agentd_status create(const agentd_host_api* api, agentd_host* host, agentd_str config,
                     agentd_instance** out) noexcept {
  *out = nullptr;
  try {
    auto a = std::make_unique<Adapter>(api, host);
    Status st = a->init(view(config));
    if (!st.isOk()) {
      createError() = st.message();
      return statusOf(st) == AGENTD_OK ? AGENTD_ERR : statusOf(st);
    }
    *out = reinterpret_cast<agentd_instance*>(a.release());
    return AGENTD_OK;
  } catch (const std::exception& e) {
    createError() = e.what();
  } catch (...) {
    createError() = "unknown exception";
  }
  return AGENTD_ERR;
}

agentd_status reconfigure(agentd_instance* i, agentd_str config) noexcept {
  try {
    Status st = cast(i)->reconfigure(view(config));
    cast(i)->setControlError(st.isOk() ? "" : st.message());
    return st.isOk() ? AGENTD_OK : AGENTD_EINVAL;
  } catch (const std::exception& e) {
    cast(i)->setControlError(e.what());
  } catch (...) {
    cast(i)->setControlError("unknown exception");
  }
  return AGENTD_ERR;
}

void destroy(agentd_instance* i) noexcept {
  try {
    delete cast(i);
  } catch (...) {
  }
}

const char* lastError(const agentd_instance* i) noexcept {
  if (i == nullptr) return createError().c_str();
  try {
    return cast(const_cast<agentd_instance*>(i))->lastError();
  } catch (...) {
    return "";
  }
}

agentd_status health(agentd_instance* i) noexcept {
  try {
    return cast(i)->health();
  } catch (...) {
    return AGENTD_ERR;
  }
}

agentd_status listTools(agentd_instance* i, agentd_list* list) noexcept {
  try {
    cast(i)->listTools(list);
    return AGENTD_OK;
  } catch (...) {
    return AGENTD_ERR;
  }
}

agentd_status invoke(agentd_instance* i, agentd_call* call, agentd_str tool,
                     agentd_str args) noexcept {
  try {
    return cast(i)->invoke(call, view(tool), view(args));
  } catch (const std::exception& e) {
    return cast(i)->fail(call, AGENTD_ERR, e.what());
  } catch (...) {
    return cast(i)->fail(call, AGENTD_ERR, "unknown exception");
  }
}

const agentd_plugin kDescriptor = {
    sizeof(agentd_plugin),
    AGENTD_ABI_VERSION,
    AGENTD_KIND_MCP_ADAPTER,
    0,
    "mcp",
    "0.1.0",
    "MCP adapter: tools of MCP servers (stdio and Streamable HTTP) as SERVER__TOOL.",
    configSchema(),
    &create,
    &reconfigure,
    &destroy,
    &lastError,
    &health,
    &listTools,
    &invoke,
    nullptr,  // list_skills
    nullptr,  // end_task
};

}  // namespace
}  // namespace agentd::mcp

extern "C" AGENTD_EXPORT const agentd_plugin* agentd_plugin_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &agentd::mcp::kDescriptor;
}
