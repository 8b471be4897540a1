#include "sse.h"

namespace agentd::mcp {

void SseParser::feed(std::string_view bytes, const Handler& handler) {
  size_t start = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (skip_lf_) {
      skip_lf_ = false;
      if (c == '\n') {
        start = i + 1;
        continue;
      }
    }
    if (c != '\n' && c != '\r') continue;
    partial_.append(bytes.data() + start, i - start);
    line(partial_, handler);
    partial_.clear();
    skip_lf_ = c == '\r';
    start = i + 1;
  }
  partial_.append(bytes.data() + start, bytes.size() - start);
}

void SseParser::line(std::string_view l, const Handler& handler) {
  if (first_) {
    first_ = false;
    if (l.substr(0, 3) == "\xEF\xBB\xBF") l.remove_prefix(3);
  }
  if (l.empty()) {  // dispatch
    last_id_ = id_buffer_;
    if (has_data_) {
      SseEvent ev{type_.empty() ? "message" : type_, data_, last_id_};
      data_.clear();
      has_data_ = false;
      type_.clear();
      if (!ev.data.empty()) handler(ev);
    }
    type_.clear();
    return;
  }
  if (l[0] == ':') return;  // comment
  std::string_view field = l, value;
  size_t colon = l.find(':');
  if (colon != std::string_view::npos) {
    field = l.substr(0, colon);
    value = l.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_ += '\n';
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    type_ = std::string(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) {
      id_buffer_ = std::string(value);
      saw_id_ = true;
    }
  } else if (field == "retry") {
    if (!value.empty() && value.size() < 10 &&
        value.find_first_not_of("0123456789") == std::string_view::npos) {
      retry_ms_ = std::stol(std::string(value));
    }
  }
}

}  // namespace agentd::mcp
