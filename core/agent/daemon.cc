#include "agent/daemon.h"

#include <set>

#include "agent/llm_factory.h"
#include "observability/log.h"
#include "plugin/specs.h"

namespace agentd {

namespace {

std::string at(const config::Config& cfg, const std::string& key) {
  config::SourceLoc w = cfg.where(key);
  return w.file + ":" + std::to_string(w.line) + ":" + std::to_string(w.column) + ": " + key;
}

// Load errors, each located at the plugin's entry in the configuration when it has one.
std::string describeLoadErrors(const config::Config& cfg,
                               const std::vector<plugin::LoadError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    std::string where;
    for (const auto& [name, entry] : cfg.plugins.entries) {
      if (entry.path == e.path) where = at(cfg, "plugins." + name + ".path") + ": ";
    }
    out += (out.empty() ? "" : "\n") + where + e.message + " [" + e.reason + "]";
  }
  return out;
}

bool agentTouched(const std::string& name, const std::vector<std::string>& changed) {
  std::string prefix = "agents." + name;
  for (const auto& k : changed) {
    if (k == prefix || k.rfind(prefix + ".", 0) == 0) return true;
  }
  return false;
}

}  // namespace

Status checkReferences(const config::Config& cfg, const plugin::PluginSet& set) {
  std::set<std::string> skills;
  for (const auto& s : set.skills()) skills.insert(s.name);
  std::string errors;
  for (const auto& [name, a] : cfg.agents) {
    for (size_t i = 0; i < a.tools.size(); ++i) {
      if (set.toolOwner(a.tools[i]) == nullptr) {
        errors += (errors.empty() ? "" : "\n") +
                  at(cfg, "agents." + name + ".tools[" + std::to_string(i) + "]") +
                  ": no loaded plugin offers tool '" + a.tools[i] + "'";
      }
    }
    for (size_t i = 0; i < a.skills.size(); ++i) {
      if (!skills.count(a.skills[i])) {
        errors += (errors.empty() ? "" : "\n") +
                  at(cfg, "agents." + name + ".skills[" + std::to_string(i) + "]") +
                  ": no loaded plugin offers skill '" + a.skills[i] + "'";
      }
    }
  }
  return errors.empty() ? Status::ok() : Status::invalidArgument(errors);
}

Daemon::Daemon(std::shared_ptr<const config::Config> cfg, config::Overrides overrides,
               boost::asio::io_context& io, std::string state_dir)
    : io_(io),
      host_({std::move(state_dir), std::chrono::milliseconds(cfg->plugins.drain_timeout_ms)}) {
  snapshot_.store(std::make_shared<const Snapshot>(
      Snapshot{cfg, std::make_shared<const plugin::PluginSet>(), nullptr, 0}));
  runner_ = std::make_unique<plugin::ToolRunner>(
      host_, plugin::ToolRunner::Options{static_cast<size_t>(cfg->plugins.workers), 4096});
  tasks_ = std::make_unique<agent::TaskManager>(
      io, agent::RunEnv{runner_.get(), &host_},
      agent::TaskManager::Limits{cfg->server.max_concurrent_tasks, cfg->server.max_queued_tasks,
                                 1000});
  tasks_->addStartListener([this](const agent::Task& t) {
    taskStarted(agent::effectiveAgent(*t.snapshot()->config, t.spec().agent));
  });
  tasks_->addFinishListener([this](const agent::Task& t) {
    taskEnded(agent::effectiveAgent(*t.snapshot()->config, t.spec().agent));
  });
  reloader_ = std::make_unique<config::Reloader>(
      cfg, std::move(overrides),
      [this](const std::shared_ptr<const config::Config>& next,
             const std::vector<std::string>& changed) { return apply(next, changed); });
}

Daemon::~Daemon() { shutdown(); }

void Daemon::start() {
  auto cfg = snapshot()->config;
  std::vector<plugin::LoadError> errors;
  (void)host_.apply(plugin::specsFromConfig(*cfg), &errors, /*keep_going=*/true);
  auto llm = agent::makeLlmClient(*cfg, {}, &io_);
  if (!llm.ok()) {
    log::error("model client unavailable", {{"error", llm.status().message()}});
  }
  snapshot_.store(std::make_shared<const Snapshot>(
      Snapshot{cfg, host_.current(), llm.ok() ? *llm : nullptr, 1}));
  {
    std::lock_guard<std::mutex> lock(agents_mu_);
    for (const auto& [name, ac] : cfg->agents) addAgent(ac);
  }
  reloader_->start();
}

void Daemon::beginDrain() {
  if (draining_.exchange(true)) return;
  tasks_->closeIntake();
  std::lock_guard<std::mutex> lock(agents_mu_);
  for (auto& [name, a] : agents_) {
    a.recovery->stop();
    (void)a.lifecycle->transition(AgentState::kDraining, "shutdown");
  }
}

void Daemon::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  beginDrain();
  reloader_->stop();
  tasks_->interruptAll();
  std::lock_guard<std::mutex> lock(agents_mu_);
  for (auto& [name, a] : agents_) {
    a.recovery->stop();
    (void)a.lifecycle->transition(AgentState::kDraining, "shutdown");
    (void)a.lifecycle->transition(AgentState::kStopped, "shutdown");
  }
}

std::map<std::string, AgentState> Daemon::agentStates() const {
  std::lock_guard<std::mutex> lock(agents_mu_);
  std::map<std::string, AgentState> out;
  for (const auto& [name, a] : agents_) out[name] = a.lifecycle->state();
  return out;
}

Result<std::shared_ptr<agent::Task>> Daemon::submit(agent::TaskSpec spec) {
  if (draining_) return Status::unavailable("agentd is shutting down");
  auto snap = snapshot();
  std::string name = agent::effectiveAgent(*snap->config, spec.agent);
  if (name.empty()) return Status::invalidArgument("several agents are configured: choose one");
  {
    std::lock_guard<std::mutex> lock(agents_mu_);
    auto it = agents_.find(name);
    if (it == agents_.end()) return Status::notFound("no agent named '" + name + "'");
    AgentState s = it->second.lifecycle->state();
    if (s == AgentState::kPaused) {
      return Status::failedPrecondition("agent " + name + " is paused");
    }
    if (s != AgentState::kReady && s != AgentState::kRunning && s != AgentState::kReloading) {
      return Status::failedPrecondition("agent " + name + " is " + stateName(s) +
                                        (it->second.lifecycle->lastError().empty()
                                             ? ""
                                             : ": " + it->second.lifecycle->lastError()));
    }
  }
  return tasks_->submit(std::move(spec), std::move(snap));
}

Status Daemon::pauseAgent(const std::string& name) {
  std::lock_guard<std::mutex> lock(agents_mu_);
  auto it = agents_.find(name);
  if (it == agents_.end()) return Status::notFound("no agent named '" + name + "'");
  return it->second.lifecycle->transition(AgentState::kPaused, "paused by request");
}

Status Daemon::resumeAgent(const std::string& name) {
  std::lock_guard<std::mutex> lock(agents_mu_);
  auto it = agents_.find(name);
  if (it == agents_.end()) return Status::notFound("no agent named '" + name + "'");
  AgentState to = it->second.running > 0 ? AgentState::kRunning : AgentState::kReady;
  return it->second.lifecycle->transition(to, "resumed by request");
}

void Daemon::taskStarted(const std::string& agent) {
  std::lock_guard<std::mutex> lock(agents_mu_);
  auto it = agents_.find(agent);
  if (it == agents_.end()) return;
  if (++it->second.running == 1 && it->second.lifecycle->state() == AgentState::kReady) {
    (void)it->second.lifecycle->transition(AgentState::kRunning, "task started");
  }
}

void Daemon::taskEnded(const std::string& agent) {
  std::lock_guard<std::mutex> lock(agents_mu_);
  auto it = agents_.find(agent);
  if (it == agents_.end()) return;
  if (it->second.running > 0 && --it->second.running == 0 &&
      it->second.lifecycle->state() == AgentState::kRunning) {
    (void)it->second.lifecycle->transition(AgentState::kReady, "no task running");
  }
}

bool Daemon::ready(std::vector<ReadinessCheck>* checks) const {
  bool all = true;
  auto add = [&](std::string name, bool ok, std::string detail) {
    all &= ok;
    if (checks != nullptr) checks->push_back({std::move(name), ok, std::move(detail)});
  };
  auto snap = snapshot();
  add("config", snap->generation > 0, snap->generation > 0 ? snap->config->path : "loading");
  add("draining", !draining_, draining_ ? "shutting down" : "");
  {
    std::lock_guard<std::mutex> lock(agents_mu_);
    size_t failed = 0;
    for (const auto& [name, a] : agents_) {
      AgentState s = a.lifecycle->state();
      bool ok = s == AgentState::kReady || s == AgentState::kRunning ||
                s == AgentState::kReloading || s == AgentState::kPaused || s == AgentState::kFailed;
      if (s == AgentState::kFailed) ++failed;
      std::string detail = stateName(s);
      if (s == AgentState::kFailed) detail += ": " + a.lifecycle->lastError();
      if (checks != nullptr) checks->push_back({"agent:" + name, s != AgentState::kFailed, detail});
      all &= ok;
    }
    if (!agents_.empty() && failed == agents_.size()) add("agents", false, "every agent failed");
  }
  for (const auto& [name, entry] : snap->config->plugins.entries) {
    if (entry.required && snap->plugins->plugin(name) == nullptr) {
      add("plugin:" + name, false, "not loaded");
    }
  }
  // Every loaded plugin's own health (the MCP adapter reports its required servers here).
  for (const auto& [name, e] : snap->plugins->plugins()) {
    // (last_error() belongs to the control thread, so the detail stays generic here.)
    bool healthy = e.gen->healthy();
    add("plugin:" + name, healthy, healthy ? "" : "its health check fails");
  }
  return all;
}

Status Daemon::initAgent(const std::string& name) {
  auto snap = snapshot();
  auto it = snap->config->agents.find(name);
  if (it == snap->config->agents.end()) return Status::notFound("agent " + name + " was removed");
  for (const auto& tool : it->second.tools) {
    if (snap->plugins->toolOwner(tool) == nullptr) {
      return Status::unavailable("no loaded plugin offers tool '" + tool + "'");
    }
  }
  return Status::ok();
}

void Daemon::addAgent(const config::AgentConfig& ac) {
  Agent a;
  a.config = ac;
  a.lifecycle = std::make_unique<AgentLifecycle>(ac.name);
  std::string name = ac.name;
  a.recovery = std::make_unique<RecoverySupervisor>(io_, *a.lifecycle,
                                                    [this, name] { return initAgent(name); });
  Status st = initAgent(name);
  if (st.isOk()) {
    (void)a.lifecycle->transition(AgentState::kReady, "initialized");
  } else {
    (void)a.lifecycle->fail(st.message());
  }
  agents_[name] = std::move(a);
}

void Daemon::removeAgent(const std::string& name) {
  auto it = agents_.find(name);
  if (it == agents_.end()) return;
  it->second.recovery->stop();
  (void)it->second.lifecycle->transition(AgentState::kDraining, "removed from configuration");
  (void)it->second.lifecycle->transition(AgentState::kStopped, "removed from configuration");
  agents_.erase(it);
}

Status Daemon::apply(const std::shared_ptr<const config::Config>& next,
                     const std::vector<std::string>& changed) {
  auto old = snapshot();
  // The model client is rebuilt only when its sections changed; tasks keep the one they have.
  std::shared_ptr<llm::LlmClient> llm = old->llm;
  if (agent::llmKeysChanged(changed)) {
    auto made = agent::makeLlmClient(*next, {}, &io_);
    if (!made.ok()) return made.status().withContext("model client");
    llm = *made;
  }
  std::vector<plugin::LoadError> errors;
  auto set = host_.prepare(plugin::specsFromConfig(*next), &errors);
  if (!set.ok()) return Status::invalidArgument(describeLoadErrors(*next, errors));
  Status refs = checkReferences(*next, **set);
  if (!refs.isOk()) {
    host_.abandon(*set);
    return refs;
  }

  std::unique_lock<std::mutex> lock(agents_mu_);
  // Agents whose own settings changed or whose tools now come from another generation.
  std::vector<std::string> touched;
  for (auto& [name, a] : agents_) {
    auto it = next->agents.find(name);
    if (it == next->agents.end()) continue;
    bool moved = false;
    for (const auto& tool : it->second.tools) {
      moved |= old->plugins->toolOwner(tool) != (*set)->toolOwner(tool);
    }
    if (!agentTouched(name, changed) && !moved) continue;
    AgentState s = a.lifecycle->state();
    if (s == AgentState::kReady || s == AgentState::kRunning || s == AgentState::kPaused) {
      (void)a.lifecycle->transition(AgentState::kReloading, "configuration reload");
    }
    touched.push_back(name);
  }

  lock.unlock();
  // Publish first, so nothing reads the retiring generations; then drain them without holding
  // the agents' lock (the io thread needs it to start tasks and answer probes meanwhile).
  snapshot_.store(std::make_shared<const Snapshot>(Snapshot{next, *set, llm, old->generation + 1}));
  host_.commit(*set);
  tasks_->setLimits(agent::TaskManager::Limits{next->server.max_concurrent_tasks,
                                               next->server.max_queued_tasks, 1000});

  lock.lock();
  for (auto it = agents_.begin(); it != agents_.end();) {
    std::string name = it->first;
    ++it;
    if (!next->agents.count(name)) removeAgent(name);
  }
  for (const auto& [name, ac] : next->agents) {
    if (!agents_.count(name)) addAgent(ac);
  }
  for (const auto& name : touched) {
    if (!agents_.count(name)) continue;
    Agent& a = agents_.at(name);
    a.config = next->agents.at(name);
    if (a.lifecycle->state() != AgentState::kReloading) continue;
    // Back to the state it came from; the lifecycle allows only that one.
    for (AgentState to : {AgentState::kReady, AgentState::kRunning, AgentState::kPaused}) {
      if (a.lifecycle->transition(to, "reload applied").isOk()) break;
    }
  }
  return Status::ok();
}

}  // namespace agentd
