#include "llm/sse.h"

namespace agentd::llm {

bool SseParser::feed(std::string_view bytes, const std::function<bool(const SseEvent&)>& on_event) {
  size_t start = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (c != '\n' && c != '\r') {
      last_was_cr_ = false;
      continue;
    }
    if (c == '\n' && last_was_cr_ && i == start) {  // the LF of a CRLF split across chunks
      last_was_cr_ = false;
      start = i + 1;
      continue;
    }
    line_.append(bytes.data() + start, i - start);
    start = i + 1;
    last_was_cr_ = c == '\r';
    if (last_was_cr_ && i + 1 < bytes.size() && bytes[i + 1] == '\n') {
      ++i;
      start = i + 1;
      last_was_cr_ = false;
    }
    std::string line;
    line.swap(line_);
    if (!onLine(line, on_event)) return false;
  }
  line_.append(bytes.data() + start, bytes.size() - start);
  return true;
}

bool SseParser::onLine(std::string_view line,
                       const std::function<bool(const SseEvent&)>& on_event) {
  if (line.empty()) {
    if (!has_data_) {
      event_.event.clear();
      return true;
    }
    SseEvent ev;
    std::swap(ev, event_);
    has_data_ = false;
    return on_event(ev);
  }
  if (line.front() == ':') return true;
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) event_.data.push_back('\n');
    event_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_.event.assign(value);
  }
  return true;
}

}  // namespace agentd::llm
