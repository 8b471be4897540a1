// The transport under an MCP client: moves newline-free JSON-RPC messages to and from one
// server. Implementations: StdioTransport (a child process) and HttpTransport (Streamable HTTP).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "status.h"

namespace agentd::mcp {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
using LogFn = std::function<void(LogLevel, std::string_view)>;

class Transport {
 public:
  struct Callbacks {
    // One JSON-RPC message (or batch) from the server. Runs on a transport thread; must not
    // block on this transport (Transport::send only queues or writes).
    std::function<void(std::string_view message)> on_message;
    // The connection is gone (process exited, session expired, stream failed for good). Called
    // at most once, on a transport thread, never from close().
    std::function<void(const Status& why)> on_closed;
    LogFn log;
  };
  virtual ~Transport() = default;

  // Starts the transport (spawns the process / starts the HTTP loop). Once.
  virtual Status start(Callbacks callbacks) = 0;
  // Sends one message. request_id is the JSON text of the id for requests (empty for
  // notifications and responses): a transport that fails to deliver a request reports it as a
  // JSON-RPC error response for that id through on_message. Thread-safe.
  virtual Status send(std::string message, const std::string& request_id) = 0;
  // The caller stopped waiting for request_id (cancelled or timed out): the HTTP transport
  // drops the response stream carrying it. Thread-safe.
  virtual void abandon(const std::string& /*request_id*/) {}
  // The negotiated protocol version, sent as MCP-Protocol-Version on HTTP. Thread-safe.
  virtual void setProtocolVersion(const std::string& /*version*/) {}
  // Called after initialization: the HTTP transport opens its GET stream for messages not tied
  // to a request and waits (briefly) until the server answered it, so that requests sent next
  // find it open.
  virtual void initialized() {}
  // Closes the connection gracefully and joins every thread; afterwards no callback runs.
  // stdio: close stdin, wait, SIGTERM, wait, SIGKILL, reap. HTTP: DELETE the session.
  virtual void close() = 0;
  // "stdio" or "http", for metrics and logs.
  virtual const char* kind() const = 0;
};

}  // namespace agentd::mcp
