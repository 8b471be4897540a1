// One configured MCP server under supervision: a thread keeps a Client connected (restarting a
// stdio server or re-initializing an HTTP session after a loss, with exponential backoff),
// caches its tools filtered by allow/deny, and refreshes them on notifications/tools/list_changed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "client.h"
#include "status.h"

namespace agentd::mcp {

// A server's configuration: one [mcp.servers.NAME] table (see README.md).
struct ServerSpec {
  std::string name;
  std::string command;  // stdio, or
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string cwd;
  std::string url;  // Streamable HTTP
  std::map<std::string, std::string> headers;
  int timeout_seconds = 60;
  bool required = false;
  std::vector<std::string> allow;  // exposed tools (glob patterns); all when empty
  std::vector<std::string> deny;   // hidden tools (glob patterns); wins over allow
  ElicitationPolicy elicitation = ElicitationPolicy::kDefaults;
  bool operator==(const ServerSpec&) const = default;

  // Whether tool passes allow/deny.
  bool exposes(std::string_view tool) const;
};

// The adapter config {"servers": {"NAME": {...}}}; InvalidArgument naming the bad key otherwise.
// Header values may reference ${ENV_VAR}.
Result<std::map<std::string, ServerSpec>> parseConfig(std::string_view config_json);
// The JSON Schema of that config.
const char* configSchema();
// Parses one server table (the value of servers.NAME).
Result<ServerSpec> parseServer(const std::string& name, const rapidjson::Value& table);
// Replaces ${NAME} with the environment variable NAME; InvalidArgument when unset.
Result<std::string> expandEnv(std::string_view value);

// The transport a spec asks for.
std::unique_ptr<Transport> makeTransport(const ServerSpec& spec);

class ManagedServer {
 public:
  struct Hooks {
    std::function<void(LogLevel, std::string_view)> log;
    std::function<void()> tools_changed;      // the exposed tool list changed
    std::function<void(bool up)> up_changed;  // connected / lost
    std::function<void()> reconnecting;       // a reconnection attempt starts
    std::function<void(size_t)> tool_count;   // exposed tools
    std::function<void(std::string_view method, double seconds, bool ok)> operation;
  };
  struct Options {
    std::chrono::milliseconds backoff_initial{500};
    std::chrono::milliseconds backoff_max{30000};
    // An idle HTTP server is pinged this often; a failed ping counts as a lost connection.
    std::chrono::milliseconds ping_interval{30000};
  };

  ManagedServer(ServerSpec spec, Hooks hooks, Options options);
  ManagedServer(ServerSpec spec, Hooks hooks)
      : ManagedServer(std::move(spec), std::move(hooks), Options()) {}
  ~ManagedServer();  // stop()
  ManagedServer(const ManagedServer&) = delete;
  ManagedServer& operator=(const ManagedServer&) = delete;

  // Starts the supervising thread.
  void start();
  // Waits until the first connection attempt ended (up or failed), at most timeout. Returns up().
  bool waitFirstAttempt(std::chrono::milliseconds timeout);
  // Disconnects (stopping the process) and joins the thread; calls in flight fail. Idempotent.
  void stop();

  const ServerSpec& spec() const { return spec_; }
  bool up() const;
  std::string lastError() const;
  // The exposed tools (server's names), as last listed.
  std::vector<ToolInfo> tools() const;
  // Calls tool, first waiting (within the call's timeout, honouring cancellation) for the server
  // to be up.
  Result<ToolCallResult> call(std::string_view tool, std::string_view args_json,
                              const CallOptions& options);

 private:
  void run();
  bool sleepFor(std::chrono::milliseconds d);  // false when stopping
  void log(LogLevel level, const std::string& m) const;

  const ServerSpec spec_;
  const Hooks hooks_;
  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool first_attempt_done_ = false;
  bool lost_ = false;               // the current client's connection closed
  bool list_changed_ = false;       // notifications/tools/list_changed pending
  std::shared_ptr<Client> client_;  // set while up
  std::vector<ToolInfo> tools_;
  std::string last_error_ = "not connected yet";
  std::thread thread_;
};

}  // namespace agentd::mcp
