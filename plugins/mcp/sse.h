// Incremental parser of a text/event-stream body (WHATWG Server-Sent Events), as used by MCP's
// Streamable HTTP transport: message events carry JSON-RPC, `id:` feeds Last-Event-ID and
// `retry:` the reconnection delay.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace agentd::mcp {

struct SseEvent {
  std::string type;  // "message" when the stream named none
  std::string data;  // data lines joined by '\n'
  std::string id;    // the stream's last event id after this event
};

class SseParser {
 public:
  using Handler = std::function<void(const SseEvent&)>;
  // Consumes bytes (any split, CR, LF or CRLF line ends); calls handler for each event with
  // data. Events with empty data are not delivered but still update lastEventId().
  void feed(std::string_view bytes, const Handler& handler);
  // The last `id:` seen on this stream (empty if none).
  const std::string& lastEventId() const { return last_id_; }
  bool sawEventId() const { return saw_id_; }
  // The last valid `retry:` value in milliseconds, if any.
  std::optional<long> retryMs() const { return retry_ms_; }

 private:
  void line(std::string_view l, const Handler& handler);
  std::string partial_;
  bool skip_lf_ = false;
  bool first_ = true;
  std::string data_;
  bool has_data_ = false;
  std::string type_;
  std::string id_buffer_;
  std::string last_id_;
  bool saw_id_ = false;
  std::optional<long> retry_ms_;
};

}  // namespace agentd::mcp
