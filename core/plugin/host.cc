#include "plugin/host.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <set>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "common/sha256.h"
#include "observability/log.h"
#include "observability/metrics.h"

namespace agentd::plugin {
namespace {

// "dev:ino:size:mtime_ns" of the file at path (symlinks followed).
Result<std::string> fileIdentity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::notFound(path + ": " + std::strerror(errno));
  }
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
         std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

struct HostMetrics {
  prometheus::Family<prometheus::Gauge>& loaded = prometheus::BuildGauge()
                                                      .Name("agentd_plugins_loaded")
                                                      .Help("Live plugins by kind.")
                                                      .Register(metrics::registry());
  prometheus::Family<prometheus::Counter>& failures = prometheus::BuildCounter()
                                                          .Name("agentd_plugin_load_failures_total")
                                                          .Help("Plugin loads rejected, by reason.")
                                                          .Register(metrics::registry());
  prometheus::Gauge& quarantined =
      prometheus::BuildGauge()
          .Name("agentd_plugin_generations_quarantined")
          .Help("Retired plugin generations kept mapped because calls did not drain in time.")
          .Register(metrics::registry())
          .Add({});
  prometheus::Family<prometheus::Counter>& swaps =
      prometheus::BuildCounter()
          .Name("agentd_plugin_generations_retired_total")
          .Help("Plugin generations retired, by outcome.")
          .Register(metrics::registry());
  HostMetrics() {
    for (const char* k : {"tool", "skill", "mcp_adapter"}) loaded.Add({{"kind", k}});
    for (LoadFailure f :
         {LoadFailure::kNotFound, LoadFailure::kNotElf, LoadFailure::kChecksum,
          LoadFailure::kDlopen, LoadFailure::kMissingEntry, LoadFailure::kNullDescriptor,
          LoadFailure::kAbiMismatch, LoadFailure::kBadDescriptor, LoadFailure::kDuplicate,
          LoadFailure::kCreate, LoadFailure::kHealth, LoadFailure::kTools, LoadFailure::kConfig}) {
      failures.Add({{"reason", loadFailureName(f)}});
    }
    for (const char* o : {"unloaded", "still_mapped", "quarantined"}) swaps.Add({{"outcome", o}});
  }
};

HostMetrics& hostMetrics() {
  static HostMetrics m;
  return m;
}

void countFailure(LoadFailure f) {
  hostMetrics().failures.Add({{"reason", loadFailureName(f)}}).Increment();
}

}  // namespace

Generation* PluginSet::toolOwner(std::string_view tool) const {
  auto it = tool_index_.find(tool);
  return it == tool_index_.end() ? nullptr : it->second;
}

std::shared_ptr<Generation> PluginSet::plugin(std::string_view name) const {
  for (const auto& [n, e] : plugins_) {
    if (n == name) return e.gen;
  }
  return nullptr;
}

std::vector<ToolInfo> PluginSet::tools() const {
  std::vector<ToolInfo> out;
  for (const auto& [n, e] : plugins_) {
    auto t = e.gen->tools();
    out.insert(out.end(), t->begin(), t->end());
  }
  return out;
}

std::vector<SkillInfo> PluginSet::skills() const {
  std::vector<SkillInfo> out;
  for (const auto& [n, e] : plugins_) {
    auto s = e.gen->skills();
    out.insert(out.end(), s->begin(), s->end());
  }
  return out;
}

PluginHost::PluginHost(Options options) : options_(std::move(options)) {
  hostMetrics();
  current_.store(std::make_shared<const PluginSet>());
}

PluginHost::~PluginHost() {
  std::lock_guard<std::mutex> lock(control_mu_);
  auto set = current_.exchange(std::make_shared<const PluginSet>());
  for (const auto& [name, e] : set->plugins()) retire(e.gen);
  reapQuarantined();
}

Result<std::shared_ptr<Generation>> PluginHost::loadGeneration(const PluginSpec& spec,
                                                               const std::string& file_sha,
                                                               LoadError* err) {
  err->path = spec.path;
  (void)file_sha;
  LoadFailure why = LoadFailure::kNone;
  std::string pin = spec.sha256;
  auto lib = Library::open(spec.path, options_.copy_dir, pin, &why);
  if (!lib.ok()) {
    err->reason = loadFailureName(why);
    err->message = lib.status().message();
    countFailure(why);
    return lib.status();
  }
  if (!spec.name.empty() && spec.name != (*lib)->descriptor().name) {
    why = LoadFailure::kConfig;
    err->reason = loadFailureName(why);
    err->message = spec.path + ": configured as plugin '" + spec.name + "' but the library is '" +
                   (*lib)->descriptor().name + "'";
    (*lib)->close();
    countFailure(why);
    return Status::invalidArgument(err->message);
  }
  auto gen =
      Generation::create(std::move(*lib), spec.config_json, next_generation_.fetch_add(1), &why);
  if (!gen.ok()) {
    err->reason = loadFailureName(why);
    err->message = gen.status().message();
    countFailure(why);
    return gen.status();
  }
  log::info("plugin generation created", {{"plugin", (*gen)->name()},
                                          {"version", (*gen)->version()},
                                          {"generation", static_cast<uint64_t>((*gen)->id())},
                                          {"abi", (*gen)->library().abiString()},
                                          {"kind", (*gen)->kindName()},
                                          {"path", spec.path}});
  return gen;
}

Status PluginHost::buildIndex(PluginSet& set, bool strict) {
  set.tool_index_.clear();
  for (const auto& [name, e] : set.plugins_) {
    auto tools = e.gen->tools();
    for (const auto& t : *tools) {
      auto [it, inserted] = set.tool_index_.emplace(t.name, e.gen.get());
      if (!inserted) {
        std::string msg = "tool '" + t.name + "' is offered by both plugin '" + it->second->name() +
                          "' and plugin '" + name + "'";
        if (strict) return Status::alreadyExists(msg);
        log::warn("duplicate tool ignored", {{"tool", t.name}, {"plugin", name}});
      }
    }
  }
  return Status::ok();
}

Result<std::shared_ptr<const PluginSet>> PluginHost::prepare(const std::vector<PluginSpec>& specs,
                                                             std::vector<LoadError>* errors,
                                                             bool keep_going) {
  std::lock_guard<std::mutex> lock(control_mu_);
  auto cur = current_.load();
  auto next = std::make_shared<PluginSet>();
  std::vector<std::shared_ptr<Generation>> created;
  struct Reconf {
    std::shared_ptr<Generation> gen;
    std::string old_config;
    PluginSpec spec;
    std::string file_sha;
  };
  std::vector<Reconf> reconfs;
  Status first_error;

  auto rollback = [&] {
    for (auto& g : created) retire(g);
  };
  auto reject = [&](LoadError e, const std::string& name_for_log) -> bool {
    log::error(
        "plugin load failed",
        {{"path", e.path}, {"plugin", name_for_log}, {"reason", e.reason}, {"error", e.message}});
    if (first_error.isOk()) first_error = Status::invalidArgument(e.message);
    if (errors != nullptr) errors->push_back(std::move(e));
    return keep_going;
  };

  for (const PluginSpec& spec : specs) {
    // Unchanged is decided by the file's identity (device, inode, size, mtime): hashing every
    // plugin on every reload and start-up would cost more than loading it.
    auto sha = fileIdentity(spec.path);
    if (!sha.ok()) {
      countFailure(LoadFailure::kNotFound);
      if (!reject({spec.path, loadFailureName(LoadFailure::kNotFound), sha.status().message()},
                  spec.name)) {
        break;
      }
      continue;
    }
    // Reuse the live generation loaded from the same path when the file is unchanged.
    const PluginSet::Entry* live = nullptr;
    for (const auto& [n, e] : cur->plugins()) {
      if (e.spec.path == spec.path && e.file_id == *sha && e.spec.sha256 == spec.sha256 &&
          e.spec.name == spec.name) {
        live = &e;
        break;
      }
    }
    std::shared_ptr<Generation> gen;
    if (live != nullptr && live->spec.config_json == spec.config_json) {
      gen = live->gen;
    } else if (live != nullptr && live->gen->supportsReconfigure()) {
      gen = live->gen;
      reconfs.push_back({gen, live->spec.config_json, spec, *sha});
    } else {
      LoadError err;
      auto g = loadGeneration(spec, *sha, &err);
      if (!g.ok()) {
        if (!reject(std::move(err), spec.name)) break;
        continue;
      }
      gen = *g;
      created.push_back(gen);
    }
    if (next->plugins_.count(gen->name()) != 0 ||
        std::any_of(next->plugins_.begin(), next->plugins_.end(),
                    [&](const auto& kv) { return kv.second.gen == gen; })) {
      countFailure(LoadFailure::kDuplicate);
      if (!created.empty() && created.back() == gen) {
        created.pop_back();
        retire(gen);
      }
      if (!reject({spec.path, loadFailureName(LoadFailure::kDuplicate),
                   spec.path + ": plugin name '" + gen->name() + "' is already loaded"},
                  gen->name())) {
        break;
      }
      continue;
    }
    // A tool name clash with plugins accepted so far rejects this plugin.
    auto trial = *next;
    trial.plugins_[gen->name()] = PluginSet::Entry{spec, gen, *sha};
    Status idx = buildIndex(trial, /*strict=*/true);
    if (!idx.isOk()) {
      countFailure(LoadFailure::kDuplicate);
      if (!created.empty() && created.back() == gen) {
        created.pop_back();
        retire(gen);
      }
      if (!reject({spec.path, loadFailureName(LoadFailure::kDuplicate), idx.message()},
                  gen->name())) {
        break;
      }
      continue;
    }
    next->plugins_[gen->name()] = PluginSet::Entry{spec, gen, *sha};
  }

  if (!first_error.isOk() && !keep_going) {
    rollback();
    return first_error;
  }
  // Reconfigure last, so a rejection can be undone without having touched anything else. A
  // plugin that cannot reconfigure gets a new instance instead.
  std::vector<Reconf*> reconfigured;
  auto undo = [&] {
    for (Reconf* r : reconfigured) r->gen->reconfigure(r->old_config);
    rollback();
  };
  for (size_t i = 0; i < reconfs.size(); ++i) {
    Status st = reconfs[i].gen->reconfigure(reconfs[i].spec.config_json);
    if (st.isOk()) {
      reconfigured.push_back(&reconfs[i]);
      continue;
    }
    if (st.code() == Status::Code::kFailedPrecondition) {
      LoadError err;
      auto g = loadGeneration(reconfs[i].spec, reconfs[i].file_sha, &err);
      if (g.ok()) {
        created.push_back(*g);
        next->plugins_[(*g)->name()] = PluginSet::Entry{reconfs[i].spec, *g, reconfs[i].file_sha};
        continue;
      }
      undo();
      if (errors != nullptr) errors->push_back(std::move(err));
      return g.status();
    }
    {
      undo();
      if (errors != nullptr) {
        errors->push_back({reconfs[i].gen->library().sourcePath(),
                           loadFailureName(LoadFailure::kConfig), st.message()});
      }
      countFailure(LoadFailure::kConfig);
      return st;
    }
  }
  buildIndex(*next, /*strict=*/false);
  for (Reconf* r : reconfigured) next->reconfigured_.emplace_back(r->gen, r->old_config);
  for (auto& g : created) watch(g);
  return std::shared_ptr<const PluginSet>(std::move(next));
}

void PluginHost::watch(const std::shared_ptr<Generation>& gen) {
  gen->setChangeListener([this] { index_dirty_.store(true, std::memory_order_release); });
}

void PluginHost::publishGauges(const PluginSet& set) {
  std::map<std::string, double> by_kind = {{"tool", 0}, {"skill", 0}, {"mcp_adapter", 0}};
  for (const auto& [n, e] : set.plugins()) by_kind[e.gen->kindName()] += 1;
  for (const auto& [k, v] : by_kind) hostMetrics().loaded.Add({{"kind", k}}).Set(v);
}

void PluginHost::commit(std::shared_ptr<const PluginSet> set) {
  std::lock_guard<std::mutex> lock(control_mu_);
  auto old = current_.exchange(set);
  publishGauges(*set);
  std::set<Generation*> keep;
  for (const auto& [n, e] : set->plugins()) keep.insert(e.gen.get());
  for (const auto& [n, e] : old->plugins()) {
    if (keep.count(e.gen.get()) == 0) retire(e.gen);
  }
  reapQuarantined();
}

void PluginHost::abandon(const std::shared_ptr<const PluginSet>& set) {
  std::lock_guard<std::mutex> lock(control_mu_);
  auto live = current_.load();
  std::set<Generation*> keep;
  for (const auto& [n, e] : live->plugins()) keep.insert(e.gen.get());
  for (const auto& [gen, old_config] : set->reconfigured_) {
    Status st = gen->reconfigure(old_config);
    if (!st.isOk()) {
      log::error("could not restore a plugin's previous config",
                 {{"plugin", gen->name()}, {"error", st.message()}});
    }
  }
  for (const auto& [n, e] : set->plugins()) {
    if (keep.count(e.gen.get()) == 0) retire(e.gen);
  }
}

Status PluginHost::apply(const std::vector<PluginSpec>& specs, std::vector<LoadError>* errors,
                         bool keep_going) {
  auto set = prepare(specs, errors, keep_going);
  if (!set.ok()) return set.status();
  commit(*set);
  return Status::ok();
}

void PluginHost::retire(const std::shared_ptr<Generation>& gen) {
  if (gen->retired() && !gen->gate().closed()) return;
  uint64_t in_flight = gen->gate().inFlight();
  RetireOutcome out = gen->retire(options_.drain_timeout);
  const char* outcome = out == RetireOutcome::kUnloaded      ? "unloaded"
                        : out == RetireOutcome::kStillMapped ? "still_mapped"
                                                             : "quarantined";
  hostMetrics().swaps.Add({{"outcome", outcome}}).Increment();
  if (out == RetireOutcome::kQuarantined) {
    std::lock_guard<std::mutex> lock(quarantine_mu_);
    quarantined_.push_back(gen);
    hostMetrics().quarantined.Set(static_cast<double>(quarantined_.size()));
    log::error("plugin generation quarantined: calls did not drain in time",
               {{"plugin", gen->name()},
                {"generation", static_cast<uint64_t>(gen->id())},
                {"in_flight", static_cast<uint64_t>(gen->gate().inFlight())}});
  } else {
    log::info("plugin generation retired", {{"plugin", gen->name()},
                                            {"generation", static_cast<uint64_t>(gen->id())},
                                            {"drained_calls", in_flight},
                                            {"outcome", outcome}});
  }
}

size_t PluginHost::reapQuarantined() {
  std::lock_guard<std::mutex> lock(quarantine_mu_);
  for (auto it = quarantined_.begin(); it != quarantined_.end();) {
    if ((*it)->gate().inFlight() == 0 &&
        (*it)->retire(std::chrono::milliseconds(0)) != RetireOutcome::kQuarantined) {
      log::info("quarantined plugin generation unloaded", {{"plugin", (*it)->name()}});
      it = quarantined_.erase(it);
    } else {
      ++it;
    }
  }
  hostMetrics().quarantined.Set(static_cast<double>(quarantined_.size()));
  return quarantined_.size();
}

size_t PluginHost::quarantinedCount() const {
  std::lock_guard<std::mutex> lock(quarantine_mu_);
  return quarantined_.size();
}

void PluginHost::reindexIfDirty() {
  if (!index_dirty_.load(std::memory_order_acquire)) return;
  std::unique_lock<std::mutex> lock(control_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // a reload is running; it rebuilds the index itself
  if (!index_dirty_.exchange(false)) return;
  auto next = std::make_shared<PluginSet>(*current_.load());
  buildIndex(*next, /*strict=*/false);
  current_.store(std::move(next));
}

bool PluginHost::runsInline(std::string_view tool) {
  auto set = current_.load();
  Generation* gen = set->toolOwner(tool);
  return gen != nullptr && gen->runsInline(tool);
}

void PluginHost::demoteInline(std::string_view tool) {
  auto set = current_.load();
  if (Generation* gen = set->toolOwner(tool)) gen->demoteInline(tool);
}

ToolResult PluginHost::call(std::string_view tool, std::string_view args_json,
                            const CallContext& ctx) {
  reindexIfDirty();
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto set = current_.load();
    auto gen = set->toolOwner(tool);
    if (gen == nullptr) {
      ToolResult r;
      r.status = AGENTD_ENOTFOUND;
      r.error = "unknown tool: " + std::string(tool);
      return r;
    }
    GateGuard guard(gen->gate());
    // A closed gate means a swap stored a newer set first: look again.
    if (!guard.entered()) continue;
    return gen->invoke(tool, args_json, ctx);
  }
  ToolResult r;
  r.status = AGENTD_ERR;
  r.error = "tool " + std::string(tool) + " is being replaced; try again";
  return r;
}

void PluginHost::endTask(std::string_view task_id) {
  auto set = current_.load();
  for (const auto& [n, e] : set->plugins()) e.gen->endTask(task_id);
}

}  // namespace agentd::plugin
