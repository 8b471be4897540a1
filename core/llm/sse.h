// SseParser: splits a text/event-stream body into events, fed in arbitrary chunks. Follows the
// WHATWG rules that matter for model APIs: "event:" names the event, "data:" lines are joined
// with '\n', a blank line dispatches, comments and other fields are ignored; CRLF, LF and CR end
// lines. Not thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace agentd::llm {

struct SseEvent {
  std::string event;  // "" when the stream gave no event name
  std::string data;
};

class SseParser {
 public:
  // Calls on_event for each complete event; stops and returns false as soon as on_event does.
  bool feed(std::string_view bytes, const std::function<bool(const SseEvent&)>& on_event);
  // True while a partial line or an undispatched event is buffered.
  bool hasPending() const { return !line_.empty() || has_data_ || !event_.event.empty(); }

 private:
  bool onLine(std::string_view line, const std::function<bool(const SseEvent&)>& on_event);
  std::string line_;
  bool last_was_cr_ = false;
  bool has_data_ = false;
  SseEvent event_;
};

}  // namespace agentd::llm
