// Test support: a child process with captured stdout/stderr, bounded waits, killed by PID.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace agentd::testing {

class Subprocess {
 public:
  // Starts argv[0] (a path) with argv; env entries are added to the inherited environment.
  Subprocess(const std::vector<std::string>& argv,
             const std::map<std::string, std::string>& env = {});
  // Sends SIGKILL if still running and reaps.
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  // Reads stderr until a line contains needle or timeout; returns that line or "".
  std::string waitForStderr(const std::string& needle, std::chrono::milliseconds timeout);
  // Everything read from stderr so far (after draining what is available now).
  std::string stderrText();
  void signal(int sig);
  // Waits for exit; returns the exit code, or -1 on timeout, or 128+signal if killed.
  int wait(std::chrono::milliseconds timeout);

 private:
  void pump(int timeout_ms);
  pid_t pid_ = -1;
  int err_fd_ = -1;
  int status_ = 0;
  bool reaped_ = false;
  std::string err_;
  size_t scanned_ = 0;
};

// Runs a command to completion (bounded), returning exit code and combined output.
struct RunResult {
  int code = -1;
  std::string output;
};
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const std::string& stdin_text = "");

// Writes text to path (creating parent directories).
void writeFile(const std::string& path, const std::string& text);
// The whole file at path, as bytes; "" when it cannot be read.
std::string readFile(const std::string& path);
// A fresh directory under the build tree's tests/tmp, removed when the process exits.
std::string freshDir(const std::string& tag);
// Threads of this process now (entries of /proc/self/task).
int threadCount();

}  // namespace agentd::testing
