// Daemon: what `agentd serve` runs. It owns the plugin host, the agents' lifecycles and the
// reloader, and publishes an immutable Snapshot (configuration, plugin set, model client) that
// work started on keeps until it ends. Reloads apply as one transaction: plugins prepared, tool references
// checked, touched agents through Reloading, the new snapshot swapped in, old generations
// drained. Thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/snapshot.h"
#include "config/config.h"
#include "config/reloader.h"
#include "lifecycle/lifecycle.h"
#include "lifecycle/recovery.h"
#include "plugin/host.h"

namespace boost::asio {
class io_context;
}

namespace agentd {


class Daemon {
 public:
  Daemon(std::shared_ptr<const config::Config> cfg, config::Overrides overrides,
         boost::asio::io_context& io, std::string state_dir);
  ~Daemon();

  // Loads the plugins (failures are logged; required ones leave the daemon degraded) and
  // initializes the agents, then starts watching the configuration.
  void start();
  // Drains and stops every agent and stops the reloader. Idempotent.
  void shutdown();

  std::shared_ptr<const Snapshot> snapshot() const { return snapshot_.load(); }
  plugin::PluginHost& plugins() { return host_; }
  config::Reloader& reloader() { return *reloader_; }
  // Name -> current state of every agent.
  std::map<std::string, AgentState> agentStates() const;

 private:
  struct Agent {
    config::AgentConfig config;
    std::unique_ptr<AgentLifecycle> lifecycle;
    std::unique_ptr<RecoverySupervisor> recovery;
  };
  Status apply(const std::shared_ptr<const config::Config>& next,
               const std::vector<std::string>& changed);
  Status initAgent(const std::string& name);
  void addAgent(const config::AgentConfig& ac);
  void removeAgent(const std::string& name);

  boost::asio::io_context& io_;
  plugin::PluginHost host_;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  mutable std::mutex agents_mu_;
  std::map<std::string, Agent> agents_;  // guarded by agents_mu_
  std::unique_ptr<config::Reloader> reloader_;
  bool shut_down_ = false;
};

// Checks that every tool and skill an agent names is offered by set. Errors name the config
// location of the reference.
Status checkReferences(const config::Config& cfg, const plugin::PluginSet& set);

}  // namespace agentd
