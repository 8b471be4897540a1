// HttpServer: HTTP/1.1 on Boost.Beast, one coroutine per connection on the caller's io_context,
// keep-alive, header/body/time limits on every request, and Server-Sent Event streams that cost
// memory, not threads. Routing is by method and path pattern ("/api/tasks/{id}/stream").
// Beast stays inside http_server.cc; handlers see plain structs.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace boost::asio {
class io_context;
}

namespace agentd::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query as sent
  std::string path;
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::map<std::string, std::string> params;   // {name} segments of the matched pattern
  std::string body;
  std::string remote_addr;

  // The header's value or "".
  const std::string& header(const std::string& lower_name) const;
  bool hasQuery(const std::string& key) const { return query.count(key) != 0; }
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";

  static HttpResponse json(int status, std::string body);
  // {"status":"error","error":message}
  static HttpResponse error(int status, const std::string& message);
};

// The server side of one SSE stream. send() and close() are thread-safe; after the client went
// away they do nothing and open() turns false.
class SseStream {
 public:
  virtual ~SseStream() = default;
  // Sends one event; id may be 0 (no id line).
  virtual void send(const std::string& event, const std::string& data, uint64_t id) = 0;
  // Sends what is queued, then ends the response.
  virtual void close() = 0;
  virtual bool open() const = 0;
  // Runs (on the io thread) when the stream ends, whoever ended it.
  virtual void onClose(std::function<void()> fn) = 0;
};

using Respond = std::function<void(HttpResponse)>;
// A route answers synchronously, later (respond may be called from any thread, exactly once),
// or by taking over the connection as an SSE stream.
struct Route {
  std::function<HttpResponse(HttpRequest&)> sync = nullptr;
  std::function<void(HttpRequest&, Respond)> async = nullptr;
  std::function<void(HttpRequest&, std::shared_ptr<SseStream>)> sse = nullptr;
  // For SSE routes: checked first; a response here is sent instead of opening the stream.
  std::function<std::optional<HttpResponse>(HttpRequest&)> sse_precheck = nullptr;
};

class HttpServer {
 public:
  struct Limits {
    size_t max_header_bytes = 16 << 10;
    size_t max_body_bytes = 1 << 20;
    std::chrono::seconds request_timeout{30};
    std::chrono::seconds sse_heartbeat{15};
    std::chrono::seconds idle_timeout{60};
  };
  // Runs before routing; a response short-circuits the request (auth, rate limits, CORS).
  using Filter = std::function<std::optional<HttpResponse>(HttpRequest&, const std::string& route)>;
  // Observes every finished request (metrics, logs).
  using Observer =
      std::function<void(const HttpRequest&, const std::string& route, int status, double seconds)>;
  // Adds headers to every response of a request (CORS).
  using Decorator = std::function<void(const HttpRequest&, HttpResponse&)>;

  HttpServer(boost::asio::io_context& io, Limits limits);
  ~HttpServer();

  // pattern: "/api/tasks/{id}/status". The route name in metrics is the pattern.
  void route(const std::string& method, const std::string& pattern, Route r);
  void setFilter(Filter f);
  void setObserver(Observer o);
  void setDecorator(Decorator d);

  // Binds HOST:PORT (port 0: ephemeral) and starts accepting.
  Status listen(const std::string& address);
  // The bound "HOST:PORT".
  std::string address() const;
  // Stops accepting; open connections finish their current request. SSE streams stay open.
  void stopAccepting();
  // Ends every SSE stream (after what is queued) and closes idle connections.
  void closeAll();
  size_t openStreams() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace agentd::server
