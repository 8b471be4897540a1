// An MCP client session over one Transport: the initialize handshake with version negotiation,
// requests with per-request timeouts (reset by progress, capped by a hard maximum), progress,
// cancellation, paginated tools/list, tools/call, and the server's requests (ping, elicitation,
// roots). Thread-safe: many requests may be in flight at once.
#pragma once

#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "status.h"
#include "transport.h"

namespace agentd::mcp {

// Protocol versions this client speaks, newest first.
const std::vector<std::string>& supportedProtocolVersions();

struct ToolInfo {
  std::string name;
  std::string title;
  std::string description;
  std::string input_schema;  // JSON object text
  bool operator==(const ToolInfo&) const = default;
};

// A tools/call result as agentd sees it: text when the server returned only text blocks and no
// structuredContent, else the JSON {"content": [...], "structuredContent": ...}.
struct ToolCallResult {
  bool is_error = false;  // the server's isError (a tool-level failure)
  bool is_json = false;
  std::string output;
};
ToolCallResult mapToolResult(const rapidjson::Value& result);

enum class ElicitationPolicy {
  kDefaults,  // accept with the schema's defaults when every required field has one
  kDecline,   // always decline
};
// Returns the elicitation/create result (JSON text) the policy gives for params.
std::string answerElicitation(const rapidjson::Value& params, ElicitationPolicy policy);

struct CallOptions {
  // Called on a transport thread for each notifications/progress of this request.
  std::function<void(double progress, double total, std::string_view message)> on_progress;
  // Polled while waiting; true sends notifications/cancelled and ends the wait.
  std::function<bool()> cancelled;
  std::chrono::milliseconds timeout{0};  // 0: the client's request_timeout
};

struct ClientOptions {
  std::string client_name = "agentd";
  std::string client_version = "0.1.0";
  std::chrono::milliseconds request_timeout{60000};
  // No request waits longer than this, however much progress it reports.
  std::chrono::milliseconds max_request_timeout{600000};
  ElicitationPolicy elicitation = ElicitationPolicy::kDefaults;
  LogFn log;
  // notifications/tools/list_changed arrived (transport thread; must not block).
  std::function<void()> on_tools_changed;
  // The transport closed underneath a connected session (transport thread; must not block).
  std::function<void(const Status&)> on_closed;
  // A request finished: method, seconds, and whether it succeeded (for metrics).
  std::function<void(std::string_view method, double seconds, bool ok)> on_operation;
};

class Client {
 public:
  Client(std::unique_ptr<Transport> transport, ClientOptions options);
  ~Client();  // close()
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Starts the transport and runs the initialize handshake. Once. cancelled, when given, is
  // polled and ends the wait early.
  Status connect(std::chrono::milliseconds timeout, std::function<bool()> cancelled = {});
  Result<std::vector<ToolInfo>> listTools(const CallOptions& options = {});
  // args_json: a JSON object.
  Result<ToolCallResult> callTool(std::string_view name, std::string_view args_json,
                                  const CallOptions& options = {});
  Status ping(const CallOptions& options = {});
  // A request; returns the result member of the response. params_json: an object or "".
  Result<rapidjson::Document> request(std::string_view method, std::string_view params_json,
                                      const CallOptions& options = {});
  Status notify(std::string_view method, std::string_view params_json);
  // Fails every waiting request and closes the transport (joining its threads). Idempotent.
  void close();

  bool connected() const { return connected_.load(); }
  std::string protocolVersion() const;
  std::string serverName() const;
  std::string serverVersion() const;
  bool serverListsChange() const;  // capabilities.tools.listChanged
  Transport& transport() { return *transport_; }

 private:
  struct Pending {
    std::condition_variable cv;
    bool done = false;
    rapidjson::Document response;
    std::mutex cb_mu;  // held while calling on_progress; finished under it
    bool finished = false;
    std::function<void(double, double, std::string_view)> on_progress;
    bool progressed = false;
  };
  void onMessage(std::string_view text);
  void handleOne(rapidjson::Document& doc, rapidjson::Value& msg);
  void onClosed(const Status& why);
  void respond(const std::string& id, const std::string& result_json);
  void respondError(const std::string& id, int code, const std::string& message);
  Result<rapidjson::Document> requestImpl(std::string_view method, std::string_view params_json,
                                          const CallOptions& options, bool cancellable);
  void log(LogLevel level, std::string_view message) const;

  std::unique_ptr<Transport> transport_;
  ClientOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Pending>> pending_;
  int64_t next_id_ = 1;
  std::atomic<bool> connected_{false};
  std::atomic<bool> closed_{false};
  bool started_ = false;
  Status closed_reason_;
  std::string protocol_version_;
  std::string server_name_;
  std::string server_version_;
  bool lists_change_ = false;
};

}  // namespace agentd::mcp
