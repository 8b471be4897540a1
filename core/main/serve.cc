#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <map>

#include "config/config.h"
#include "lifecycle/lifecycle.h"
#include "lifecycle/recovery.h"
#include "main/commands.h"
#include "observability/log.h"
#include "observability/metrics.h"
#include "plugin/host.h"
#include "plugin/specs.h"

namespace agentd {

namespace fs = std::filesystem;

namespace {

void applyLogLevel(const config::Config& cfg) {
  log::Level l;
  // Precedence: environment over file.
  if (const char* env = std::getenv("LOG_LEVEL"); env != nullptr && log::parseLevel(env, &l)) {
    log::setLevel(l);
  } else if (log::parseLevel(cfg.logging.level, &l)) {
    log::setLevel(l);
  }
}

struct Agent {
  std::unique_ptr<AgentLifecycle> lifecycle;
  std::unique_ptr<RecoverySupervisor> recovery;
};

class Daemon {
 public:
  Daemon(std::shared_ptr<const config::Config> cfg, std::string state_dir)
      : cfg_(std::move(cfg)),
        host_({state_dir, std::chrono::milliseconds(cfg_->plugins.drain_timeout_ms)}) {}

  void start() {
    std::vector<plugin::LoadError> errors;
    (void)host_.apply(plugin::specsFromConfig(*cfg_), &errors, /*keep_going=*/true);
    for (const auto& ac : cfg_->agents) addAgent(ac);
  }

  // Re-reads the configuration file and swaps plugins; any failure keeps what runs.
  void reload() {
    auto next = config::load(cfg_->path);
    if (!next.ok()) {
      log::error("reload rejected: invalid configuration", {{"error", next.status().message()}});
      return;
    }
    if ((*next)->sha256 == cfg_->sha256) {
      log::info("reload: configuration unchanged");
      return;
    }
    if ((*next)->server.listen != cfg_->server.listen ||
        (*next)->metrics.listen != cfg_->metrics.listen ||
        (*next)->plugins.state_dir != cfg_->plugins.state_dir) {
      log::error("reload rejected: listen addresses or state_dir changed; restart required");
      return;
    }
    for (auto& [name, a] : agents_) {
      AgentState s = a.lifecycle->state();
      if (s == AgentState::kReady || s == AgentState::kRunning || s == AgentState::kPaused) {
        (void)a.lifecycle->transition(AgentState::kReloading, "configuration reload");
      }
    }
    Status st = host_.apply(plugin::specsFromConfig(**next));
    for (auto& [name, a] : agents_) {
      if (a.lifecycle->state() != AgentState::kReloading) continue;
      // Back to the state it came from: the lifecycle knows which.
      for (AgentState to : {AgentState::kReady, AgentState::kRunning, AgentState::kPaused}) {
        if (a.lifecycle->transition(to, "reload finished").isOk()) break;
      }
    }
    if (!st.isOk()) {
      log::error("reload rejected: plugins failed; previous plugins keep serving",
                 {{"error", st.message()}});
      return;
    }
    cfg_ = *next;
    log::info("configuration reloaded", {{"sha256", cfg_->sha256}});
  }

  void drain() {
    for (auto& [name, a] : agents_) {
      if (a.recovery) a.recovery->stop();
      (void)a.lifecycle->transition(AgentState::kDraining, "shutdown");
      (void)a.lifecycle->transition(AgentState::kStopped, "shutdown");
    }
  }

  void setIo(boost::asio::io_context* io) { io_ = io; }

 private:
  Status initAgent(const config::AgentConfig& ac) {
    auto set = host_.current();
    for (const auto& tool : ac.tools) {
      if (set->toolOwner(tool) == nullptr) {
        return Status::unavailable("agent " + ac.name + ": no loaded plugin offers tool '" +
                                   tool + "'");
      }
    }
    return Status::ok();
  }

  void addAgent(const config::AgentConfig& ac) {
    Agent a;
    a.lifecycle = std::make_unique<AgentLifecycle>(ac.name);
    a.recovery = std::make_unique<RecoverySupervisor>(*io_, *a.lifecycle,
                                                      [this, ac] { return initAgent(ac); });
    Status st = initAgent(ac);
    if (st.isOk()) {
      (void)a.lifecycle->transition(AgentState::kReady, "initialized");
    } else {
      (void)a.lifecycle->fail(st.message());
    }
    agents_[ac.name] = std::move(a);
  }

  std::shared_ptr<const config::Config> cfg_;
  plugin::PluginHost host_;
  boost::asio::io_context* io_ = nullptr;
  std::map<std::string, Agent> agents_;
};

}  // namespace

int runServe(const ServeOptions& options) {
  std::vector<config::ConfigError> errors;
  auto cfg = config::load(options.config, &errors);
  if (!cfg.ok()) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.toString().c_str());
    return kExitUsage;
  }
  applyLogLevel(**cfg);
  std::string listen =
      options.metrics_listen.empty() ? (*cfg)->metrics.listen : options.metrics_listen;
  auto metrics_server = metrics::MetricsServer::start(listen);
  if (!metrics_server.ok()) {
    log::error("cannot start metrics listener", {{"error", metrics_server.status().message()}});
    return kExitRuntime;
  }
  std::string state_dir = (*cfg)->plugins.state_dir;
  bool own_state_dir = state_dir.empty();
  if (own_state_dir) {
    state_dir = (fs::temp_directory_path() / ("agentd-" + std::to_string(getpid()))).string();
  }

  boost::asio::io_context io;
  // Installed before anything else can take time, so an early signal is never fatal.
  boost::asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  int exit_code = kExitOk;
  {
    Daemon daemon(*cfg, state_dir);
    daemon.setIo(&io);
    daemon.start();
    log::info("agentd serving", {{"config", options.config},
                                 {"metrics", (*metrics_server)->address()},
                                 {"pid", static_cast<int64_t>(getpid())}});

    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int sig) {
          if (ec) return;
          if (sig == SIGHUP) {
            log::info("SIGHUP: reloading configuration");
            daemon.reload();
            signals.async_wait(on_signal);
            return;
          }
          log::info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
          daemon.drain();
          io.stop();
        };
    signals.async_wait(on_signal);
    io.run();
  }
  if (own_state_dir) {
    std::error_code ec;
    fs::remove_all(state_dir, ec);
  }
  log::info("agentd stopped");
  // Everything that matters is released: plugins destroyed and unloaded, state removed, logs
  // flushed. Skip stopping the metrics listener, whose civetweb shutdown waits out a 1 s poll.
  std::fflush(stderr);
  std::fflush(stdout);
  std::_Exit(exit_code);
}

}  // namespace agentd
