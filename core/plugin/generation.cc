#include "plugin/generation.h"

#include <prometheus/counter.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>

#include <set>

#include "common/json.h"
#include "observability/log.h"
#include "observability/metrics.h"
#include "plugin/plugin_metrics.h"

// Host-side state behind the opaque handles of plugin.h.
struct agentd_host {
  agentd::plugin::Generation* gen;
};

struct agentd_call {
  const agentd::plugin::CallContext* ctx;
  enum class Kind { kNone, kText, kJson } kind = Kind::kNone;
  std::string output;
  std::string error;
  bool mixed = false;
};

struct agentd_list {
  std::vector<agentd::plugin::ToolInfo>* tools = nullptr;
  std::vector<agentd::plugin::SkillInfo>* skills = nullptr;
  std::string plugin;
  std::string problem;  // first bad entry, if any
};

namespace agentd::plugin {
namespace {

std::string str(agentd_str s) {
  return s.ptr == nullptr ? std::string() : std::string(s.ptr, s.len);
}
std::string_view sv(agentd_str s) {
  return s.ptr == nullptr ? std::string_view() : std::string_view(s.ptr, s.len);
}
agentd_str toStr(std::string_view s) { return agentd_str{s.data(), s.size()}; }

void hostLog(agentd_host* host, agentd_log_level level, agentd_str message) {
  log::Level l = log::Level::kInfo;
  if (level == AGENTD_LOG_DEBUG) l = log::Level::kDebug;
  if (level == AGENTD_LOG_WARN) l = log::Level::kWarn;
  if (level >= AGENTD_LOG_ERROR) l = log::Level::kError;
  if (!log::enabled(l)) return;
  log::write(l, sv(message), {{"plugin", host->gen->name()}});
}

agentd_status hostMetricDefine(agentd_host* host, agentd_metric_type type, agentd_str name,
                               agentd_str help, const agentd_str* label_names, size_t n,
                               uint32_t* out) {
  if (out == nullptr || type < AGENTD_METRIC_COUNTER || type > AGENTD_METRIC_HISTOGRAM ||
      (n > 0 && label_names == nullptr)) {
    return AGENTD_EINVAL;
  }
  std::vector<std::string> labels;
  for (size_t i = 0; i < n && i < 9; ++i) labels.push_back(str(label_names[i]));
  if (n > 8) labels.resize(9);
  auto r = definePluginMetric(static_cast<PluginMetricType>(type), sv(name), sv(help), labels);
  if (!r.ok()) {
    log::warn("plugin metric refused",
              {{"plugin", host->gen->name()}, {"error", r.status().message()}});
    return AGENTD_EINVAL;
  }
  *out = *r;
  return AGENTD_OK;
}

void hostMetricRecord(agentd_host*, uint32_t metric, const agentd_str* values, size_t n,
                      double value) {
  if (n > 8 || (n > 0 && values == nullptr)) return;
  std::vector<std::string> v;
  v.reserve(n);
  for (size_t i = 0; i < n; ++i) v.push_back(str(values[i]));
  recordPluginMetric(metric, v, value);
}

void hostToolsChanged(agentd_host* host);

agentd_status hostEmit(agentd_call* call, agentd_str chunk, agentd_call::Kind kind) {
  if (call == nullptr) return AGENTD_EINVAL;
  if (call->kind != agentd_call::Kind::kNone && call->kind != kind) {
    call->mixed = true;
    return AGENTD_EINVAL;
  }
  call->kind = kind;
  if (chunk.len > 0) {
    if (chunk.ptr == nullptr) return AGENTD_EINVAL;
    call->output.append(chunk.ptr, chunk.len);
  }
  return AGENTD_OK;
}
agentd_status hostEmitText(agentd_call* c, agentd_str s) {
  return hostEmit(c, s, agentd_call::Kind::kText);
}
agentd_status hostEmitJson(agentd_call* c, agentd_str s) {
  return hostEmit(c, s, agentd_call::Kind::kJson);
}
void hostSetError(agentd_call* call, agentd_str message) {
  if (call != nullptr) call->error = str(message);
}
void hostProgress(agentd_call* call, double progress, double total, agentd_str message) {
  if (call != nullptr && call->ctx->on_progress)
    call->ctx->on_progress(progress, total, sv(message));
}
int hostIsCancelled(const agentd_call* call) {
  return call != nullptr && call->ctx->cancel != nullptr && call->ctx->cancel->cancelled() ? 1 : 0;
}
agentd_str hostCallContext(const agentd_call* call, agentd_str key) {
  if (call == nullptr) return agentd_str{"", 0};
  std::string_view k = sv(key);
  const CallContext& c = *call->ctx;
  if (k == "task_id") return toStr(c.task_id);
  if (k == "agent") return toStr(c.agent);
  if (k == "working_dir") return toStr(c.working_dir);
  if (k == "tool_call_id") return toStr(c.tool_call_id);
  return agentd_str{"", 0};
}

bool validToolName(std::string_view n) {
  if (n.empty() || n.size() > 128) return false;
  for (char c : n) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

void hostAddToolFlags(agentd_list* list, agentd_str name, agentd_str description, agentd_str schema,
                      uint32_t flags) {
  if (list == nullptr || list->tools == nullptr) return;
  ToolInfo t{str(name), str(description), str(schema), list->plugin, flags & AGENTD_TOOL_INLINE};
  if (!validToolName(t.name)) {
    if (list->problem.empty()) list->problem = "invalid tool name '" + t.name + "'";
    return;
  }
  if (t.input_schema.empty()) t.input_schema = R"({"type":"object","properties":{}})";
  auto doc = json::parse(t.input_schema);
  if (!doc.ok() || !doc->IsObject()) {
    if (list->problem.empty()) {
      list->problem = "tool '" + t.name + "' has an input schema that is not a JSON object" +
                      (doc.ok() ? "" : ": " + doc.status().message());
    }
    return;
  }
  if (!json::isValidUtf8(t.description)) {
    if (list->problem.empty()) list->problem = "tool '" + t.name + "' description is not UTF-8";
    return;
  }
  list->tools->push_back(std::move(t));
}

void hostAddTool(agentd_list* list, agentd_str name, agentd_str description, agentd_str schema) {
  hostAddToolFlags(list, name, description, schema, 0);
}

void hostAddSkill(agentd_list* list, agentd_str name, agentd_str description,
                  agentd_str instructions) {
  if (list == nullptr || list->skills == nullptr) return;
  SkillInfo s{str(name), str(description), str(instructions), list->plugin};
  if (!validToolName(s.name)) {
    if (list->problem.empty()) list->problem = "invalid skill name '" + s.name + "'";
    return;
  }
  list->skills->push_back(std::move(s));
}

const agentd_host_api kHostApi = {
    sizeof(agentd_host_api),
    AGENTD_ABI_VERSION,
    &hostLog,
    &hostMetricDefine,
    &hostMetricRecord,
    &hostToolsChanged,
    &hostEmitText,
    &hostEmitJson,
    &hostSetError,
    &hostProgress,
    &hostIsCancelled,
    &hostCallContext,
    &hostAddTool,
    &hostAddSkill,
    &hostAddToolFlags,
};

void hostToolsChanged(agentd_host* host) { host->gen->markChanged(); }

prometheus::Family<prometheus::Counter>& unloadIncomplete() {
  static auto& f = prometheus::BuildCounter()
                       .Name("agentd_plugin_unload_incomplete_total")
                       .Help("Plugin generations whose image stayed mapped after dlclose.")
                       .Register(metrics::registry());
  return f;
}

// Checks config_json against the plugin's published JSON Schema (if any).
Status validateConfig(const agentd_plugin& d, const std::string& config_json) {
  auto config = json::parse(config_json);
  if (!config.ok())
    return Status::invalidArgument("config is not JSON: " + config.status().message());
  if (!config->IsObject()) return Status::invalidArgument("config must be a JSON object");
  if (d.config_schema == nullptr || *d.config_schema == '\0') return Status::ok();
  auto schema_doc = json::parse(d.config_schema);
  if (!schema_doc.ok()) {
    return Status::failedPrecondition("the plugin's config schema is not JSON: " +
                                      schema_doc.status().message());
  }
  rapidjson::SchemaDocument schema(*schema_doc);
  rapidjson::SchemaValidator validator(schema);
  if (config->Accept(validator)) return Status::ok();
  rapidjson::StringBuffer where, rule;
  validator.GetInvalidDocumentPointer().StringifyUriFragment(where);
  validator.GetInvalidSchemaPointer().StringifyUriFragment(rule);
  std::string at = where.GetSize() > 1 ? std::string(where.GetString() + 1, where.GetSize() - 1)
                                       : std::string("/");
  return Status::invalidArgument("config " + at + " violates the plugin's schema (keyword '" +
                                 validator.GetInvalidSchemaKeyword() + "' at " +
                                 std::string(rule.GetString(), rule.GetSize()) + ")");
}

}  // namespace

const char* Generation::kindName() const {
  switch (desc_->kind) {
    case AGENTD_KIND_TOOL:
      return "tool";
    case AGENTD_KIND_SKILL:
      return "skill";
    case AGENTD_KIND_MCP_ADAPTER:
      return "mcp_adapter";
  }
  return "unknown";
}

Result<std::shared_ptr<Generation>> Generation::create(std::unique_ptr<Library> lib,
                                                       const std::string& config_json, uint64_t id,
                                                       LoadFailure* why) {
  std::shared_ptr<Generation> g(new Generation());
  g->id_ = id;
  g->desc_ = &lib->descriptor();
  g->name_ = g->desc_->name;
  g->lib_ = std::move(lib);
  g->config_json_ = config_json;
  g->host_ = std::make_unique<agentd_host>(agentd_host{g.get()});
  auto abandon = [&](LoadFailure f, std::string msg) -> Status {
    *why = f;
    if (g->instance_ != nullptr) {
      g->desc_->destroy(g->instance_);
      g->instance_ = nullptr;
    }
    g->destroyed_ = true;
    g->retired_ = true;
    g->lib_->close();
    return Status::invalidArgument("plugin " + g->name_ + " (" + g->lib_->sourcePath() +
                                   "): " + msg);
  };

  Status valid = validateConfig(*g->desc_, config_json);
  if (!valid.isOk()) {
    return abandon(valid.code() == Status::Code::kFailedPrecondition ? LoadFailure::kBadDescriptor
                                                                     : LoadFailure::kConfig,
                   valid.message());
  }
  agentd_instance* inst = nullptr;
  agentd_status st = g->desc_->create(&kHostApi, g->host_.get(), toStr(config_json), &inst);
  if (st != AGENTD_OK || inst == nullptr) {
    const char* err = g->desc_->last_error(nullptr);
    if (inst != nullptr) g->desc_->destroy(inst);
    return abandon(LoadFailure::kCreate, "create failed (status " + std::to_string(st) + "): " +
                                             (err != nullptr && *err ? err : "no error text"));
  }
  g->instance_ = inst;
  if (g->desc_->health != nullptr && g->desc_->health(inst) != AGENTD_OK) {
    const char* err = g->desc_->last_error(inst);
    return abandon(LoadFailure::kHealth,
                   std::string("health check failed: ") + (err != nullptr ? err : ""));
  }
  Status lists = g->refreshLists();
  if (!lists.isOk()) return abandon(LoadFailure::kTools, lists.message());
  return g;
}

Generation::~Generation() {
  if (!destroyed_ && instance_ != nullptr) {
    // Not retired: a bug in the owner. Leave the image mapped rather than risk a crash.
    log::error("plugin generation dropped without retire", {{"plugin", name_}});
    lib_->leak();
  }
}

Status Generation::refreshLists() {
  auto tools = std::make_shared<std::vector<ToolInfo>>();
  auto skills = std::make_shared<std::vector<SkillInfo>>();
  agentd_list list;
  list.plugin = name_;
  if (desc_->list_tools != nullptr) {
    list.tools = tools.get();
    agentd_status st = desc_->list_tools(instance_, &list);
    if (st != AGENTD_OK) return Status::invalidArgument("list_tools failed");
  }
  if (desc_->list_skills != nullptr) {
    list.tools = nullptr;
    list.skills = skills.get();
    agentd_status st = desc_->list_skills(instance_, &list);
    if (st != AGENTD_OK && desc_->kind == AGENTD_KIND_SKILL) {
      return Status::invalidArgument("list_skills failed");
    }
  }
  if (!list.problem.empty()) return Status::invalidArgument(list.problem);
  std::set<std::string> seen;
  for (const auto& t : *tools) {
    if (!seen.insert(t.name).second) return Status::invalidArgument("duplicate tool " + t.name);
  }
  std::lock_guard<std::mutex> lock(lists_mu_);
  tools_ = std::move(tools);
  skills_ = std::move(skills);
  return Status::ok();
}

void Generation::markChanged() {
  lists_dirty_.store(true, std::memory_order_release);
  std::function<void()> l;
  {
    std::lock_guard<std::mutex> lock(lists_mu_);
    l = change_listener_;
  }
  if (l) l();
}

void Generation::setChangeListener(std::function<void()> l) {
  std::lock_guard<std::mutex> lock(lists_mu_);
  change_listener_ = std::move(l);
}

std::shared_ptr<const std::vector<ToolInfo>> Generation::tools() {
  if (lists_dirty_.exchange(false, std::memory_order_acq_rel)) {
    GateGuard guard(gate_);
    if (guard.entered()) {
      Status st = refreshLists();
      if (!st.isOk()) {
        log::warn("plugin tool list refresh rejected; keeping the previous list",
                  {{"plugin", name_}, {"error", st.message()}});
      }
    }
  }
  std::lock_guard<std::mutex> lock(lists_mu_);
  return tools_;
}

bool Generation::runsInline(std::string_view tool) {
  std::lock_guard<std::mutex> lock(lists_mu_);
  if (!tools_) return false;
  for (const auto& t : *tools_) {
    if (t.name != tool) continue;
    if ((t.flags & AGENTD_TOOL_INLINE) == 0) return false;
    for (const auto& d : demoted_) {
      if (d == tool) return false;
    }
    return true;
  }
  return false;
}

void Generation::demoteInline(std::string_view tool) {
  std::lock_guard<std::mutex> lock(lists_mu_);
  for (const auto& d : demoted_) {
    if (d == tool) return;
  }
  demoted_.emplace_back(tool);
}

std::shared_ptr<const std::vector<SkillInfo>> Generation::skills() {
  tools();  // refreshes both lists when dirty
  std::lock_guard<std::mutex> lock(lists_mu_);
  return skills_;
}

ToolResult Generation::invoke(std::string_view tool, std::string_view args_json,
                              const CallContext& ctx) {
  ToolResult r;
  if (desc_->invoke == nullptr) {
    r.status = AGENTD_ENOTSUP;
    r.error = "plugin " + name_ + " offers no tools";
    return r;
  }
  agentd_call call;
  call.ctx = &ctx;
  agentd_status st = desc_->invoke(instance_, &call, toStr(tool), toStr(args_json));
  r.status = st;
  if (st != AGENTD_OK) {
    r.error = call.error.empty()
                  ? "tool " + std::string(tool) + " failed with status " + std::to_string(st)
                  : std::move(call.error);
    if (!json::isValidUtf8(r.error)) r.error = "tool failed (error text is not UTF-8)";
    return r;
  }
  if (call.mixed) {
    r.status = AGENTD_ERR;
    r.error = "tool " + std::string(tool) + " mixed text and JSON output";
    return r;
  }
  if (call.kind == agentd_call::Kind::kJson) {
    Status v = json::validate(call.output);
    if (!v.isOk()) {
      r.status = AGENTD_ERR;
      r.error = "tool " + std::string(tool) + " returned invalid JSON: " + v.message();
      return r;
    }
    r.is_json = true;
  } else if (!json::isValidUtf8(call.output)) {
    r.status = AGENTD_ERR;
    r.error = "tool " + std::string(tool) + " returned text that is not valid UTF-8";
    return r;
  }
  r.ok = true;
  r.output = std::move(call.output);
  return r;
}

Status Generation::reconfigure(const std::string& config_json) {
  if (desc_->reconfigure == nullptr) {
    return Status::failedPrecondition("plugin " + name_ + " does not support reconfigure");
  }
  Status valid = validateConfig(*desc_, config_json);
  if (!valid.isOk()) return Status::invalidArgument("plugin " + name_ + ": " + valid.message());
  agentd_status st = desc_->reconfigure(instance_, toStr(config_json));
  if (st == AGENTD_ENOTSUP) {
    return Status::failedPrecondition("plugin " + name_ + " does not support reconfigure");
  }
  if (st != AGENTD_OK) {
    const char* err = desc_->last_error(instance_);
    return Status::invalidArgument("plugin " + name_ +
                                   " rejected the new config: " + (err != nullptr ? err : ""));
  }
  config_json_ = config_json;
  lists_dirty_.store(true);
  return Status::ok();
}

bool Generation::healthy() {
  // The gate first: a retired generation's descriptor may be unmapped.
  GateGuard guard(gate_);
  if (!guard.entered()) return false;
  return desc_->health == nullptr || desc_->health(instance_) == AGENTD_OK;
}

std::string Generation::lastError() {
  GateGuard guard(gate_);
  if (!guard.entered()) return "retired";
  const char* e = desc_->last_error(instance_);
  return e != nullptr ? e : "";
}

void Generation::endTask(std::string_view task_id) {
  GateGuard guard(gate_);
  if (guard.entered() && desc_->end_task != nullptr) desc_->end_task(instance_, toStr(task_id));
}

RetireOutcome Generation::retire(std::chrono::milliseconds drain_timeout) {
  gate_.close();
  if (!gate_.waitDrained(drain_timeout)) {
    retired_ = true;
    return RetireOutcome::kQuarantined;
  }
  if (!destroyed_) {
    desc_->destroy(instance_);
    instance_ = nullptr;
    destroyed_ = true;
  }
  retired_ = true;
  Status st = lib_->close();
  if (!st.isOk()) {
    unloadIncomplete().Add({{"plugin", name_}}).Increment();
    log::warn("plugin image still mapped after unload",
              {{"plugin", name_}, {"error", st.message()}});
    return RetireOutcome::kStillMapped;
  }
  return RetireOutcome::kUnloaded;
}

}  // namespace agentd::plugin
