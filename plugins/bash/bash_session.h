// BashSession: one /bin/bash process in its own session and process group, fed commands through
// a socket on stdin and read through one pipe shared by stdout and stderr (so the two interleave
// in the order they were written).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace agentd::bash {

// How a command ended.
enum class RunOutcome {
  kDone,       // the command finished; exit_code is its status
  kTimedOut,   // the deadline passed; the session was killed
  kCancelled,  // should_stop() turned true; the session was killed
  kExited,     // bash itself exited (e.g. `exit 3`); exit_code is bash's status
  kKilled,     // terminate() was called from another thread while the command ran
};

struct RunResult {
  RunOutcome outcome = RunOutcome::kDone;
  int exit_code = 0;
  std::string output;      // raw bytes (not UTF-8 checked), at most kKeepBytes of the start
  bool truncated = false;  // more output was produced than `output` holds
};

class BashSession {
 public:
  // Bytes of output kept per command; enough for any 16,000-character clip.
  static constexpr size_t kKeepBytes = 80 * 1024;

  // Starts bash in `dir` (the current directory when empty) with exactly `env` ("NAME=value").
  // On failure returns nullptr and sets *error.
  static std::unique_ptr<BashSession> start(const std::string& dir,
                                            const std::vector<std::string>& env,
                                            std::string* error);
  ~BashSession();  // kills every process of the session and reaps bash
  BashSession(const BashSession&) = delete;
  BashSession& operator=(const BashSession&) = delete;

  // Runs one command, waiting until it finishes, `deadline` passes or should_stop() returns true
  // (polled every 50 ms). REQUIRES: calls are serialized by the caller.
  RunResult run(std::string_view command, std::chrono::steady_clock::time_point deadline,
                const std::function<bool()>& should_stop);

  // Kills bash and every process left in its process group or session. Thread-safe; may run
  // while run() is waiting, which then returns kKilled.
  void terminate();

  pid_t pid() const { return pid_; }

 private:
  BashSession(pid_t pid, int in_fd, int out_fd) : pid_(pid), in_fd_(in_fd), out_fd_(out_fd) {}

  bool writeAll(std::string_view data, std::chrono::steady_clock::time_point deadline,
                const std::function<bool()>& should_stop, RunOutcome* why);
  // Returns true once bash has exited (without reaping it); *status gets its exit status.
  bool hasExited(int* status);
  // Kills the session's processes and reaps bash. Idempotent.
  void killAndReap();

  const pid_t pid_;
  std::mt19937_64 rng_{std::random_device{}()};  // sentinel nonces; used by run() only
  const int in_fd_;
  const int out_fd_;
  std::mutex kill_mu_;  // guards reaped_ and serializes killing against reaping
  bool reaped_ = false;
  int exit_status_ = 0;
  std::atomic<bool> terminated_{false};
  bool skip_newline_ = false;  // the last sentinel's newline is still in the pipe; run() only
};

// Sends SIGKILL to process group `pgid` and to every process whose session id is `sid`, twice,
// to catch children forked while the first round ran. Zombies are left to their parents.
void killProcessTree(pid_t pgid, pid_t sid);

// Pids of live (non-zombie) processes whose session id is `sid`, read from /proc.
std::vector<pid_t> liveProcessesInSession(pid_t sid);

}  // namespace agentd::bash
