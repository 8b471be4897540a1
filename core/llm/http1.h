// HTTP/1.1 framing for HttpClient's loopback path (see http_client.h): which URLs qualify, the
// bytes of a request, and a response reader over Boost.Beast's parser that hands out the head
// and the body as they arrive. No I/O and no threads here; the client owns the sockets.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llm/http_client.h"

namespace agentd::llm::http1 {

// Where a URL the client may serve itself points: plain http:// to this host, named as
// localhost, 127.0.0.1 or [::1] (the hosts the client never sends through a proxy), without
// user information. Anything else stays with libcurl.
struct Target {
  std::vector<sockaddr_storage> addrs;  // in the order to try (localhost: 127.0.0.1, then ::1)
  std::string host_header;              // "127.0.0.1:8000"; the port only when not 80
  std::string target;                   // path and query: "/v1/chat/completions"
  std::string pool_key;                 // connections are shared per key ("127.0.0.1:8000")
};
std::optional<Target> loopbackTarget(const std::string& url);

// The request's head as sent: request line, Host (unless the caller set one), the caller's
// headers (but those with an empty value), Content-Length for POST, the blank line.
std::string requestHead(const HttpRequest& req, const Target& target);
// What follows the head: the body for POST. Other methods send none, as on the libcurl path.
std::string_view requestBody(const HttpRequest& req);

// Reads one response from the bytes of a connection. Interim 1xx responses are skipped; the
// head of the final one goes to on_head, its body (chunked, sized, or up to the close) to
// on_body in pieces. Either returning false aborts the read.
class ResponseReader {
 public:
  enum class State {
    kMore,     // needs more bytes
    kDone,     // the response is complete
    kAborted,  // a callback returned false
    kError,    // malformed, or the connection ended too early: see error() and truncated()
  };
  struct Callbacks {
    std::function<bool(long status, HttpHeaders headers)> on_head;
    std::function<bool(std::string_view chunk)> on_body;
  };
  // head_request: the request was HEAD, so the response has no body whatever its head says.
  ResponseReader(Callbacks cb, bool head_request);
  ~ResponseReader();
  ResponseReader(const ResponseReader&) = delete;
  ResponseReader& operator=(const ResponseReader&) = delete;

  // Takes bytes received; after kDone, the bytes past the response stay unread (leftover()).
  State feed(std::string_view data);
  // The peer closed the connection (end of stream).
  State eof();

  bool gotBytes() const { return got_bytes_; }  // any byte arrived
  bool headDone() const { return head_delivered_; }
  // After kDone: the connection may carry another request.
  bool keepAlive() const;
  size_t leftover() const { return buf_.size(); }
  // After kError: why, in words; truncated() when the head arrived and the body was cut short.
  const std::string& error() const { return error_; }
  bool truncated() const { return truncated_; }

 private:
  struct Parser;
  void newParser();
  // Parses from the front of in, removing what the parser took.
  State step(std::string_view& in);
  State fail(std::string why, bool truncated);

  Callbacks cb_;
  bool head_request_;
  std::unique_ptr<Parser> parser_;
  std::string buf_;  // bytes received and not yet consumed by the parser (a partial head,
                     // a partial chunk header, or bytes past the response)
  bool got_bytes_ = false;
  bool head_delivered_ = false;
  bool aborted_ = false;
  bool truncated_ = false;
  std::string error_;
};

}  // namespace agentd::llm::http1
