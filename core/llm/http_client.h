// HttpClient: asynchronous HTTP over libcurl's multi interface, driven by one event thread.
//
// The client keeps its sockets, a wake-up eventfd and nothing else in one epoll set and drives
// curl_multi_socket_action from it, so a wake-up costs O(ready sockets), not O(transfers), and
// any number of calls in flight costs one thread. By default that thread is the client's own.
// With Options::external_loop it runs no thread: the owner watches the epoll descriptor in its
// own event loop and calls HttpLoop::drive() (the agent's io_context does, see
// agent/http_pump.h), so a model call made by a task and its completion never change threads.
// Nesting the epoll set keeps descriptor ownership with libcurl (no assign/release games for
// sockets curl closes itself); Asio stays out of this module.
//
// Connections are pooled by the multi handle (keep-alive, HTTP/2 multiplexing over TLS).
//
// Plain http:// to this host (localhost, 127.0.0.1, [::1]: the hosts never sent through a
// proxy) skips libcurl: the client writes HTTP/1.1 itself on non-blocking sockets in the same
// epoll set and reads the response with Boost.Beast's parser (llm/http1.h). A local model
// server is where the client's own cost per request shows (libcurl's multi state machine costs
// tens of microseconds per request on a reused connection); the behaviour is the same: keep-alive
// pool, max_host_connections, the three timeouts, cancellation, the error classes, and a request
// sent again on a fresh connection when a pooled one turns out closed before any response byte.
// Options::loopback_direct = false keeps such requests on libcurl too.
//
// Thread-safe; every callback runs on the event thread and must not block.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace agentd::llm {

// Lower-case header name -> value (last one wins).
using HttpHeaders = std::map<std::string, std::string>;

struct HttpRequest {
  std::string url;
  std::string method = "POST";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds first_byte_timeout{120000};
  std::chrono::milliseconds total_timeout{600000};
};

// Why a transfer failed below HTTP. kNone with a status code means a response arrived.
enum class TransportError {
  kNone,
  kConnect,    // refused, unreachable, DNS, TLS handshake
  kTimeout,    // connect, first-byte or total timeout
  kReset,      // the peer reset or closed the connection mid-transfer
  kTruncated,  // the body ended before its announced length
  kCancelled,
  kAborted,  // a callback asked to stop
  kOther,
};
const char* transportErrorName(TransportError e);

struct HttpResult {
  TransportError error = TransportError::kNone;
  std::string error_message;  // libcurl's text for transport errors
  long status = 0;            // 0 when no response head arrived
  HttpHeaders headers;
  std::string body;  // empty when on_data consumed the body
  std::chrono::steady_clock::duration elapsed{};
  long new_connections = 0;  // connections opened for this transfer (0 = reused)
};

// The loop of a client created with Options::external_loop. Watch fd() for readability in an
// event loop run by one thread and call drive() when it is readable and when the delay the
// last drive() returned has passed. The thread inside drive() is the client's event thread.
// Outlives its client: once the client is destroyed, fd() turns readable and drive() returns
// kClosed; the owner then stops watching and drops the loop.
class HttpLoop {
 public:
  static constexpr int kClosed = -2;
  ~HttpLoop();
  HttpLoop(const HttpLoop&) = delete;
  HttpLoop& operator=(const HttpLoop&) = delete;
  int fd() const { return epfd_; }
  // Runs queued functions, due timers and, when ready (fd() was readable), ready transfers,
  // without blocking. Returns the delay in ms after which to call it again even if fd() stays
  // quiet (0: at once, -1: only when fd() turns readable), or kClosed. Thread-safe (calls are
  // serialised).
  int drive(bool ready = true);
  // kick runs drive(false) soon on the driver's thread; the client calls it (instead of making
  // fd() readable) for work posted from the thread that drives it. Call on that thread.
  void setKick(std::function<void()> kick);

 private:
  friend class HttpClient;
  HttpLoop() = default;
  struct State;
  std::shared_ptr<State> state_;
  int epfd_ = -1;     // a duplicate of the client's epoll descriptor
  int closefd_ = -1;  // eventfd in the epoll set, written when the client is destroyed
};

struct HttpCallbacks {
  // Once, when the final response head is complete. Returning false aborts (kAborted).
  std::function<bool(long status, const HttpHeaders& headers)> on_headers;
  // Body chunks as they arrive; when unset, the body is collected in HttpResult::body.
  // Returning false aborts (kAborted).
  std::function<bool(std::string_view chunk)> on_data;
  // Exactly once and never from inside start(), unless the transfer was cancelled first.
  std::function<void(HttpResult result)> on_done;
};

class HttpClient {
 public:
  struct Options {
    long max_host_connections = 0;  // 0 = unlimited
    long max_connection_cache = 0;  // 0 = libcurl's default (4 x transfers); loopback: idle
                                    // connections kept per host (0 = all)
    bool external_loop = false;     // no own thread: the owner drives loop()
    bool loopback_direct = true;    // plain HTTP to this host without libcurl (see above)
  };
  static Result<std::unique_ptr<HttpClient>> create(Options options);
  static Result<std::unique_ptr<HttpClient>> create() { return create(Options{}); }
  // Stops the event thread; transfers still running are dropped without on_done.
  // REQUIRES: with external_loop, not called from inside drive().
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts a transfer; returns its id (> 0). Thread-safe.
  uint64_t start(HttpRequest request, HttpCallbacks callbacks);
  // Stops a transfer; its on_done is never called after cancel() returns when cancel() runs on
  // the event thread, or after the event thread processes it otherwise. Unknown ids are ignored.
  void cancel(uint64_t id);
  // Runs fn on the event thread. Thread-safe.
  void post(std::function<void()> fn);
  // Runs fn as the event thread and returns once it ran: at once when called on the event
  // thread; with external_loop, on the calling thread while it holds the loop; else on the
  // event thread while the caller waits. Thread-safe.
  void runExclusive(const std::function<void()>& fn);
  // Runs fn on the event thread after delay; returns a timer id (> 0). Thread-safe.
  uint64_t runAfter(std::chrono::milliseconds delay, std::function<void()> fn);
  // Cancels a pending timer; unknown or fired ids are ignored. Thread-safe.
  void cancelTimer(uint64_t id);
  // True on the event thread (with external_loop: inside drive() or runExclusive()).
  bool inEventThread() const;
  // The loop to drive when created with external_loop, else null.
  std::shared_ptr<HttpLoop> loop() const;

  // Transfers running now, and connections opened since creation (for reuse checks).
  size_t activeTransfers() const;
  uint64_t connectionsOpened() const;

 private:
  friend class HttpLoop;
  class Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace agentd::llm
