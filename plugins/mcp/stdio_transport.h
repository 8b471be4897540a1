// MCP stdio transport: runs the server as a child process (own process group) and exchanges
// newline-delimited JSON-RPC over its stdin/stdout. The child's stderr goes to the log, unparsed.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "transport.h"

namespace agentd::mcp {

struct StdioOptions {
  std::string command;  // looked up in PATH when it has no '/'
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // added to (overriding) the inherited environment
  std::string cwd;                         // empty: inherited
  // close(): wait this long after closing stdin, then SIGTERM, wait again, then SIGKILL.
  std::chrono::milliseconds close_grace{2000};
};

class StdioTransport : public Transport {
 public:
  explicit StdioTransport(StdioOptions options);
  ~StdioTransport() override;  // close()

  Status start(Callbacks callbacks) override;
  Status send(std::string message, const std::string& request_id) override;
  void close() override;
  const char* kind() const override { return "stdio"; }
  // The child's PID (its process group id too); -1 before start(). For tests and logs.
  pid_t pid() const { return pid_; }

 private:
  void ioLoop();
  // Reaps the child if it exited; returns true once reaped. Thread-safe.
  bool tryReap();
  std::string exitText() const;

  StdioOptions options_;
  Callbacks callbacks_;
  pid_t pid_ = -1;
  int in_fd_ = -1, out_fd_ = -1, err_fd_ = -1, wake_fd_ = -1;
  std::mutex write_mu_;  // guards in_fd_ writes and close
  std::mutex reap_mu_;
  bool reaped_ = false;
  int wait_status_ = 0;
  std::atomic<bool> closing_{false};
  bool started_ = false;
  bool closed_ = false;
  std::thread io_;
};

}  // namespace agentd::mcp
