// MCP Streamable HTTP transport (2025-03-26 and later) over libcurl's multi interface: one loop
// thread per server drives every POST (JSON or SSE replies), the GET stream for server messages,
// resumption of broken streams with Last-Event-ID after the server's `retry:` delay, and the
// session (Mcp-Session-Id, DELETE on close).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "transport.h"

namespace agentd::mcp {

struct HttpOptions {
  std::string url;
  std::map<std::string, std::string> headers;  // sent with every request (values as given)
  std::chrono::milliseconds connect_timeout{10000};
  // Delay before reconnecting a stream whose server gave no `retry:`.
  std::chrono::milliseconds default_retry{1000};
  // Consecutive failed reconnections of one stream before giving up on it.
  int max_stream_retries = 5;
  // initialized() waits at most this long for the GET stream to be answered.
  std::chrono::milliseconds get_stream_wait{2000};
};

class HttpTransport : public Transport {
 public:
  explicit HttpTransport(HttpOptions options);
  ~HttpTransport() override;  // close()

  Status start(Callbacks callbacks) override;
  Status send(std::string message, const std::string& request_id) override;
  void abandon(const std::string& request_id) override;
  void setProtocolVersion(const std::string& version) override;
  void initialized() override;
  void close() override;
  const char* kind() const override { return "http"; }
  // The session id the server assigned (empty if none). Thread-safe.
  std::string sessionId() const;

  struct Impl;  // the loop's state (curl handles), defined in the .cc

 private:
  void loop();

  HttpOptions options_;
  Callbacks callbacks_;
  Impl* impl_ = nullptr;
  mutable std::mutex mu_;
  struct Outgoing {
    std::string body;
    std::string request_id;
  };
  std::vector<Outgoing> queue_;
  std::vector<std::string> abandoned_;
  bool open_get_ = false;
  bool get_answered_ = false;  // the GET stream got its response headers (or failed)
  std::condition_variable get_cv_;
  bool stop_ = false;
  std::string session_id_;
  std::string protocol_version_;
  std::atomic<bool> closed_reported_{false};
  bool started_ = false;
  bool closed_ = false;
  std::thread thread_;
};

}  // namespace agentd::mcp
