// Reloader: the single-flight reload queue and the reload transaction.
//
// Triggers converge here: file events (debounced), SIGHUP and the admin endpoint (reload now),
// and a periodic hash poll. One worker thread runs one reload at a time; triggers arriving
// meanwhile coalesce into one more run. A reload re-reads the configured path, compares SHA-256
// (unchanged: no-op), parses and validates, rejects changes to restart-only keys, then hands the
// new Config to `apply`, which builds and swaps everything else. Any failure keeps the current
// Config. Outcomes are logged and counted in agentd_config_reloads_total{result} and friends.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "config/watcher.h"

namespace agentd::config {

enum class ReloadResult { kSuccess, kFailure, kNoop, kRestartRequired };
const char* reloadResultName(ReloadResult r);

struct ReloadOutcome {
  ReloadResult result = ReloadResult::kNoop;
  std::string message;               // why it failed, or a summary of what changed
  std::vector<std::string> changed;  // key paths
  std::string sha256;                // of the configuration now in force
  std::string trigger;
};

class Reloader {
 public:
  // Builds and swaps everything that depends on next; a non-OK status keeps the current config
  // (apply must then have left everything as it was). Runs on the reloader's thread.
  using ApplyFn = std::function<Status(const std::shared_ptr<const Config>& next,
                                       const std::vector<std::string>& changed)>;
  using OutcomeFn = std::function<void(const ReloadOutcome&)>;

  Reloader(std::shared_ptr<const Config> initial, Overrides overrides, ApplyFn apply);
  // Stops the watcher and the worker.
  ~Reloader();
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  // Starts the worker, the directory watcher (when reload.watch) and the poll.
  void start();
  void stop();

  // A file changed: reload after reload.debounce_ms without further events.
  void notify(const std::string& what);
  // Reload as soon as the worker is free; does not wait.
  void requestNow(const std::string& trigger);
  // Reload as soon as the worker is free and return the outcome (waits).
  ReloadOutcome reloadNow(const std::string& trigger);

  std::shared_ptr<const Config> current() const;
  // Called after every reload attempt (not after polls that found nothing), on the worker
  // thread (tests, benchmarks).
  void setOutcomeListener(OutcomeFn fn);

 private:
  void run();
  ReloadOutcome transaction(const std::string& trigger, bool count_noop);
  void record(const ReloadOutcome& o);
  std::vector<std::string> watchDirs(const Config& cfg) const;

  const Overrides overrides_;
  const ApplyFn apply_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const Config> current_;  // guarded by mu_
  bool stopping_ = false;
  bool pending_ = false;
  bool from_poll_ = false;
  std::string trigger_;
  std::chrono::steady_clock::time_point due_;
  std::chrono::steady_clock::time_point next_poll_;
  uint64_t requested_ = 0, completed_ = 0;  // reloadNow() waits for completed_ >= its ticket
  ReloadOutcome last_;
  OutcomeFn listener_;
  std::unique_ptr<DirectoryWatcher> watcher_;
  std::thread worker_;
};

}  // namespace agentd::config
