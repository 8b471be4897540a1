#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "agent/daemon.h"
#include "config/config.h"
#include "main/commands.h"
#include "observability/log.h"
#include "observability/metrics.h"
#include "server/api.h"

namespace agentd {

namespace fs = std::filesystem;
namespace asio = boost::asio;

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

namespace {

// The graceful shutdown: not ready at once, new tasks refused, running tasks get until the
// grace period ends, then are interrupted (their trajectories flushed, SSE clients get `end`),
// then everything closes.
class Shutdown {
 public:
  Shutdown(asio::io_context& io, Daemon& daemon, server::Api& api, int grace_seconds)
      : io_(io),
        daemon_(daemon),
        api_(api),
        timer_(io),
        grace_(std::chrono::seconds(grace_seconds)) {}

  void begin(const char* signal) {
    log::info("shutting down: draining",
              {{"signal", signal},
               {"running_tasks", static_cast<uint64_t>(daemon_.tasks().running())},
               {"grace_seconds", static_cast<int64_t>(grace_.count())}});
    daemon_.beginDrain();
    deadline_ = std::chrono::steady_clock::now() + grace_;
    poll();
  }

 private:
  bool idle() const { return daemon_.tasks().running() + daemon_.tasks().queued() == 0; }

  void poll() {
    if (idle()) return finish();
    if (!interrupted_ && std::chrono::steady_clock::now() >= deadline_) {
      log::warn("grace period over: interrupting tasks",
                {{"running_tasks", static_cast<uint64_t>(daemon_.tasks().running())}});
      daemon_.tasks().interruptAll();
      interrupted_ = true;
      deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    } else if (interrupted_ && std::chrono::steady_clock::now() >= deadline_) {
      log::error("tasks did not stop after being interrupted; exiting anyway");
      return finish();
    }
    timer_.expires_after(std::chrono::milliseconds(20));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) poll();
    });
  }

  void finish() {
    api_.stopAccepting();
    api_.closeAll();
    daemon_.shutdown();
    // Let the closing SSE streams and responses flush, then stop.
    timer_.expires_after(std::chrono::milliseconds(100));
    timer_.async_wait([this](const boost::system::error_code&) { io_.stop(); });
  }

  asio::io_context& io_;
  Daemon& daemon_;
  server::Api& api_;
  asio::steady_timer timer_;
  std::chrono::seconds grace_;
  std::chrono::steady_clock::time_point deadline_;
  bool interrupted_ = false;
};

}  // namespace

// Thousands of SSE streams need thousands of descriptors: use what the hard limit allows.
void raiseFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

int runServe(const ServeOptions& options) {
  raiseFileLimit();
  config::Overrides overrides;
  overrides.metrics_listen = options.metrics_listen;
  overrides.server_listen = options.listen;
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

  asio::io_context io(1);
  // Installed before anything else can take time, so an early signal is never fatal.
  asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  int rc = kExitOk;
  {
    Daemon daemon(*cfg, overrides, io, state_dir);
    auto api = server::Api::create(io, daemon);
    if (!api.ok()) {
      log::error("cannot start the API", {{"error", api.status().message()}});
      return kExitUsage;
    }
    Status listening = (*api)->listen((*cfg)->server.listen);
    if (!listening.isOk()) {
      log::error("cannot start the API listener", {{"error", listening.message()}});
      daemon.shutdown();
      rc = kExitRuntime;
    } else {
      daemon.start();
      log::info("agentd serving", {{"config", options.config},
                                   {"api", (*api)->address()},
                                   {"metrics", (*metrics_server)->address()},
                                   {"pid", static_cast<int64_t>(getpid())}});
      Shutdown shutdown(io, daemon, **api, (*cfg)->server.shutdown_grace_seconds);
      bool stopping = false;
      std::function<void(const boost::system::error_code&, int)> on_signal =
          [&](const boost::system::error_code& ec, int sig) {
            if (ec) return;
            if (sig == SIGHUP) {
              log::info("SIGHUP: reloading configuration");
              daemon.reloader().requestNow("SIGHUP");
            } else if (stopping) {
              log::warn("second signal: exiting now");
              std::fflush(stderr);
              std::_Exit(kExitRuntime);
            } else {
              stopping = true;
              shutdown.begin(sig == SIGTERM ? "SIGTERM" : "SIGINT");
            }
            signals.async_wait(on_signal);
          };
      signals.async_wait(on_signal);
      io.run();
    }
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
  std::_Exit(rc);
}

}  // namespace agentd
