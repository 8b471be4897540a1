// Header-only C++ wrapper over the agentd plugin ABI (plugin.h).
//
// Subclass agentd::sdk::Plugin, give it a constructor (agentd::sdk::Host, std::string_view
// config_json), and export it with AGENTD_PLUGIN(...). Every ABI entry point is a noexcept
// trampoline: an exception thrown by plugin code becomes a status plus error text; nothing C++
// crosses the boundary.
#pragma once

#include <agentd/plugin.h>

#include <exception>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace agentd::sdk {

inline agentd_str toStr(std::string_view s) { return agentd_str{s.data(), s.size()}; }
inline std::string_view view(agentd_str s) {
  return s.ptr == nullptr ? std::string_view() : std::string_view(s.ptr, s.len);
}

// Throw to fail an operation with a specific status; other exceptions map to AGENTD_ERR.
class Error : public std::runtime_error {
 public:
  Error(agentd_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  agentd_status status() const { return status_; }

 private:
  agentd_status status_;
};

// A host-owned metric. record(): counter adds, gauge sets, histogram observes.
class Metric {
 public:
  Metric() = default;
  Metric(const agentd_host_api* api, agentd_host* host, uint32_t id)
      : api_(api), host_(host), id_(id) {}
  void record(double value, std::initializer_list<std::string_view> labels = {}) const {
    if (api_ == nullptr) return;
    agentd_str values[8];
    size_t n = 0;
    for (std::string_view l : labels) {
      if (n == 8) break;
      values[n++] = toStr(l);
    }
    api_->metric_record(host_, id_, values, n, value);
  }

 private:
  const agentd_host_api* api_ = nullptr;
  agentd_host* host_ = nullptr;
  uint32_t id_ = 0;
};

// The host's services. Cheap to copy; valid until the instance is destroyed. Thread-safe.
class Host {
 public:
  Host(const agentd_host_api* api, agentd_host* host) : api_(api), host_(host) {}

  void log(agentd_log_level level, std::string_view message) const {
    api_->log(host_, level, toStr(message));
  }
  void debug(std::string_view m) const { log(AGENTD_LOG_DEBUG, m); }
  void info(std::string_view m) const { log(AGENTD_LOG_INFO, m); }
  void warn(std::string_view m) const { log(AGENTD_LOG_WARN, m); }
  void error(std::string_view m) const { log(AGENTD_LOG_ERROR, m); }

  // Throws Error when the host refuses the definition.
  Metric defineMetric(agentd_metric_type type, std::string_view name, std::string_view help,
                      std::initializer_list<std::string_view> label_names = {}) const {
    agentd_str labels[8];
    size_t n = 0;
    for (std::string_view l : label_names) {
      if (n == 8) throw Error(AGENTD_EINVAL, "at most 8 metric labels");
      labels[n++] = toStr(l);
    }
    uint32_t id = 0;
    agentd_status st = api_->metric_define(host_, type, toStr(name), toStr(help), labels, n, &id);
    if (st != AGENTD_OK) throw Error(st, "metric definition refused: " + std::string(name));
    return Metric(api_, host_, id);
  }

  void toolsChanged() const { api_->tools_changed(host_); }
  const agentd_host_api* api() const { return api_; }
  agentd_host* handle() const { return host_; }

 private:
  const agentd_host_api* api_;
  agentd_host* host_;
};

// One running invocation. Valid only inside Plugin::invoke.
class Call {
 public:
  Call(const agentd_host_api* api, agentd_call* call) : api_(api), call_(call) {}

  // Appends text output (UTF-8).
  void emit(std::string_view text) const { check(api_->emit_text(call_, toStr(text))); }
  // Appends to the call's JSON output.
  void emitJson(std::string_view json) const { check(api_->emit_json(call_, toStr(json))); }
  void progress(double done, double total = 0, std::string_view message = {}) const {
    api_->progress(call_, done, total, toStr(message));
  }
  bool cancelled() const { return api_->is_cancelled(call_) != 0; }
  // "task_id", "agent", "working_dir", "tool_call_id"; empty when unknown.
  std::string_view context(std::string_view key) const {
    return view(api_->call_context(call_, toStr(key)));
  }
  void setError(std::string_view message) const { api_->set_error(call_, toStr(message)); }

 private:
  static void check(agentd_status st) {
    if (st != AGENTD_OK) throw Error(st, "output rejected by host");
  }
  const agentd_host_api* api_;
  agentd_call* call_;
};

class ToolList {
 public:
  ToolList(const agentd_host_api* api, agentd_list* list) : api_(api), list_(list) {}
  // flags: AGENTD_TOOL_* bits; a host older than ABI 1.1 gets the tool without them.
  void add(std::string_view name, std::string_view description, std::string_view input_schema,
           uint32_t flags = 0) const {
    if (flags != 0 && api_->struct_size >= offsetof(agentd_host_api, add_tool_flags) +
                                               sizeof(api_->add_tool_flags)) {
      api_->add_tool_flags(list_, toStr(name), toStr(description), toStr(input_schema), flags);
    } else {
      api_->add_tool(list_, toStr(name), toStr(description), toStr(input_schema));
    }
  }

 private:
  const agentd_host_api* api_;
  agentd_list* list_;
};

class SkillList {
 public:
  SkillList(const agentd_host_api* api, agentd_list* list) : api_(api), list_(list) {}
  void add(std::string_view name, std::string_view description,
           std::string_view instructions) const {
    api_->add_skill(list_, toStr(name), toStr(description), toStr(instructions));
  }

 private:
  const agentd_host_api* api_;
  agentd_list* list_;
};

// Base class of a plugin instance. invoke, listTools, listSkills, healthy and endTask may run
// concurrently on several threads; reconfigure may run concurrently with them.
class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual void listTools(const ToolList& /*tools*/) {}
  virtual void invoke(const Call& /*call*/, std::string_view tool, std::string_view /*args*/) {
    throw Error(AGENTD_ENOTFOUND, "unknown tool: " + std::string(tool));
  }
  virtual void listSkills(const SkillList& /*skills*/) {}
  // Throw to reject the new config; the old one stays in force. Not overridden: the host builds
  // a new instance with the new config instead.
  virtual void reconfigure(std::string_view /*config_json*/) {
    throw Error(AGENTD_ENOTSUP, "reconfigure not supported");
  }
  virtual bool healthy() { return true; }
  virtual void endTask(std::string_view /*task_id*/) {}
};

namespace detail {

struct Instance {
  const agentd_host_api* api = nullptr;
  agentd_host* host = nullptr;
  std::unique_ptr<Plugin> impl;
  std::string last_error;
};

inline Instance* cast(agentd_instance* i) { return reinterpret_cast<Instance*>(i); }

template <class F>
agentd_status guard(std::string& error_out, F&& f) noexcept {
  try {
    f();
    return AGENTD_OK;
  } catch (const Error& e) {
    error_out = e.what();
    return e.status() == AGENTD_OK ? AGENTD_ERR : e.status();
  } catch (const std::exception& e) {
    error_out = e.what();
    return AGENTD_ERR;
  } catch (...) {
    error_out = "unknown exception";
    return AGENTD_ERR;
  }
}

template <class T>
struct Thunks {
  static std::string& createError() {
    static std::string error;
    return error;
  }

  static agentd_status create(const agentd_host_api* api, agentd_host* host, agentd_str config,
                              agentd_instance** out) noexcept {
    *out = nullptr;
    Instance* inst = nullptr;
    agentd_status st = guard(createError(), [&] {
      auto owned = std::make_unique<Instance>();
      owned->api = api;
      owned->host = host;
      owned->impl = std::make_unique<T>(Host(api, host), view(config));
      inst = owned.release();
    });
    if (st == AGENTD_OK) *out = reinterpret_cast<agentd_instance*>(inst);
    return st;
  }
  static agentd_status reconfigure(agentd_instance* i, agentd_str config) noexcept {
    Instance* inst = cast(i);
    return guard(inst->last_error, [&] { inst->impl->reconfigure(view(config)); });
  }
  static void destroy(agentd_instance* i) noexcept {
    try {
      delete cast(i);
    } catch (...) {
    }
  }
  static const char* lastError(const agentd_instance* i) noexcept {
    if (i == nullptr) return createError().c_str();
    return reinterpret_cast<const Instance*>(i)->last_error.c_str();
  }
  static agentd_status health(agentd_instance* i) noexcept {
    try {
      return cast(i)->impl->healthy() ? AGENTD_OK : AGENTD_ERR;
    } catch (...) {
      return AGENTD_ERR;
    }
  }
  static agentd_status listTools(agentd_instance* i, agentd_list* list) noexcept {
    Instance* inst = cast(i);
    std::string error;
    agentd_status st = guard(error, [&] { inst->impl->listTools(ToolList(inst->api, list)); });
    if (st != AGENTD_OK)
      inst->api->log(inst->host, AGENTD_LOG_ERROR, toStr("list_tools: " + error));
    return st;
  }
  static agentd_status invoke(agentd_instance* i, agentd_call* call, agentd_str tool,
                              agentd_str args) noexcept {
    Instance* inst = cast(i);
    Call c(inst->api, call);
    std::string error;
    agentd_status st = guard(error, [&] { inst->impl->invoke(c, view(tool), view(args)); });
    if (st != AGENTD_OK) inst->api->set_error(call, toStr(error));
    return st;
  }
  static agentd_status listSkills(agentd_instance* i, agentd_list* list) noexcept {
    Instance* inst = cast(i);
    std::string error;
    agentd_status st = guard(error, [&] { inst->impl->listSkills(SkillList(inst->api, list)); });
    if (st != AGENTD_OK) {
      inst->api->log(inst->host, AGENTD_LOG_ERROR, toStr("list_skills: " + error));
    }
    return st;
  }
  static void endTask(agentd_instance* i, agentd_str task_id) noexcept {
    try {
      cast(i)->impl->endTask(view(task_id));
    } catch (...) {
    }
  }
};

template <class T>
const agentd_plugin* describe(agentd_kind kind, const char* name, const char* version,
                              const char* description, const char* config_schema) noexcept {
  static const agentd_plugin descriptor = {
      sizeof(agentd_plugin),
      AGENTD_ABI_VERSION,
      kind,
      0,
      name,
      version,
      description,
      config_schema,
      &Thunks<T>::create,
      &Thunks<T>::reconfigure,
      &Thunks<T>::destroy,
      &Thunks<T>::lastError,
      &Thunks<T>::health,
      &Thunks<T>::listTools,
      &Thunks<T>::invoke,
      &Thunks<T>::listSkills,
      &Thunks<T>::endTask,
  };
  return &descriptor;
}

}  // namespace detail
}  // namespace agentd::sdk

// Exports Type (a subclass of agentd::sdk::Plugin) as this library's plugin. kind is one of the
// AGENTD_KIND_* values; config_schema is a JSON Schema string or nullptr.
#define AGENTD_PLUGIN(Type, kind, name, version, description, config_schema)                       \
  extern "C" AGENTD_EXPORT const agentd_plugin* agentd_plugin_entry(uint32_t host_abi) {           \
    (void)host_abi;                                                                                \
    return ::agentd::sdk::detail::describe<Type>(kind, name, version, description, config_schema); \
  }
