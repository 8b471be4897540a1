// Daemon: what `agentd serve` runs. It owns the plugin host, the tool runner, the task manager,
// the agents' lifecycles and the reloader, and publishes an immutable Snapshot (configuration,
// plugin set, model client) that a task keeps until it ends. Reloads apply as one transaction:
// plugins prepared, references checked, touched agents through Reloading, the new snapshot
// swapped in, old generations drained. Agents go Ready <-> Running as their tasks start and end.
// Thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/snapshot.h"
#include "agent/task_manager.h"
#include "config/config.h"
#include "config/reloader.h"
#include "lifecycle/lifecycle.h"
#include "lifecycle/recovery.h"
#include "plugin/host.h"
#include "plugin/runner.h"

namespace boost::asio {
class io_context;
}

namespace agentd {

// One readiness check, for /readyz?verbose.
struct ReadinessCheck {
  std::string name;
  bool ok = false;
  std::string detail;
};

class Daemon {
 public:
  Daemon(std::shared_ptr<const config::Config> cfg, config::Overrides overrides,
         boost::asio::io_context& io, std::string state_dir);
  ~Daemon();

  // Loads the plugins (failures are logged; required ones leave the daemon not ready),
  // initializes the agents, then starts watching the configuration.
  void start();
  // Stops taking tasks and turns not-ready; agents go Draining. Running tasks continue.
  void beginDrain();
  // Interrupts what still runs, stops every agent and the reloader. Idempotent.
  void shutdown();

  std::shared_ptr<const Snapshot> snapshot() const { return snapshot_.load(); }
  plugin::PluginHost& plugins() { return host_; }
  agent::TaskManager& tasks() { return *tasks_; }
  config::Reloader& reloader() { return *reloader_; }

  // Starts a task on the current snapshot. FailedPrecondition (409) when its agent is paused or
  // not ready, Unavailable when the queue is full or agentd is draining, NotFound for an unknown
  // agent.
  Result<std::shared_ptr<agent::Task>> submit(agent::TaskSpec spec);

  // Name -> current state of every agent.
  std::map<std::string, AgentState> agentStates() const;
  Status pauseAgent(const std::string& name);
  Status resumeAgent(const std::string& name);

  bool draining() const { return draining_.load(); }
  // Ready: configuration loaded, not draining, agents Ready or Running (not all Failed, none
  // Initializing), required plugins loaded and healthy.
  bool ready(std::vector<ReadinessCheck>* checks = nullptr) const;

 private:
  struct Agent {
    config::AgentConfig config;
    std::unique_ptr<AgentLifecycle> lifecycle;
    std::unique_ptr<RecoverySupervisor> recovery;
    int running = 0;  // tasks running
  };
  Status apply(const std::shared_ptr<const config::Config>& next,
               const std::vector<std::string>& changed);
  Status initAgent(const std::string& name);
  void addAgent(const config::AgentConfig& ac);
  void removeAgent(const std::string& name);
  void taskStarted(const std::string& agent);
  void taskEnded(const std::string& agent);

  boost::asio::io_context& io_;
  plugin::PluginHost host_;
  std::unique_ptr<plugin::ToolRunner> runner_;
  std::unique_ptr<agent::TaskManager> tasks_;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  mutable std::mutex agents_mu_;
  std::map<std::string, Agent> agents_;  // guarded by agents_mu_
  std::unique_ptr<config::Reloader> reloader_;
  std::atomic<bool> draining_{false};
  bool shut_down_ = false;
};

// Checks that every tool and skill an agent names is offered by set. Errors name the config
// location of the reference.
Status checkReferences(const config::Config& cfg, const plugin::PluginSet& set);

}  // namespace agentd
