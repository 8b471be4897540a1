#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "config/config.h"
#include "main/commands.h"
#include "main/daemon.h"
#include "observability/log.h"
#include "observability/metrics.h"

namespace agentd {

namespace fs = std::filesystem;

void applyLogLevel(const config::Config& cfg, const std::string& cli_level) {
  log::Level l;
  // Precedence: command line > environment (LOG_LEVEL) > file.
  const char* env = std::getenv("LOG_LEVEL");
  if (!cli_level.empty() && log::parseLevel(cli_level, &l)) {
    log::setLevel(l);
  } else if (env != nullptr && log::parseLevel(env, &l)) {
    log::setLevel(l);
  } else if (log::parseLevel(cfg.logging.level, &l)) {
    log::setLevel(l);
  }
}

int runServe(const ServeOptions& options) {
  config::Overrides overrides;
  overrides.metrics_listen = options.metrics_listen;
  overrides.log_level = options.log_level;
  std::vector<config::ConfigError> errors;
  auto cfg = config::load(options.config, overrides, &errors);
  if (!cfg.ok()) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.toString().c_str());
    return kExitUsage;
  }
  applyLogLevel(**cfg, options.log_level);
  auto metrics_server = metrics::MetricsServer::start((*cfg)->metrics.listen);
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
  {
    Daemon daemon(*cfg, overrides, io, state_dir);
    daemon.start();
    log::info("agentd serving", {{"config", options.config},
                                 {"metrics", (*metrics_server)->address()},
                                 {"pid", static_cast<int64_t>(getpid())}});

    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int sig) {
          if (ec) return;
          if (sig == SIGHUP) {
            log::info("SIGHUP: reloading configuration");
            daemon.reloader().requestNow("SIGHUP");
            signals.async_wait(on_signal);
            return;
          }
          log::info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
          daemon.shutdown();
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
  std::_Exit(kExitOk);
}

}  // namespace agentd
