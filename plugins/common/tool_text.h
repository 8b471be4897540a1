// Text helpers of the tools that return text: UTF-8 repair, trae's 16,000-character clip, `cat -n`
// numbering. Shared by bash, str_replace_based_edit_tool and json_edit_tool.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace agentd::filetools {

inline constexpr size_t kMaxResponseChars = 16000;  // trae's MAX_RESPONSE_LEN
inline constexpr std::string_view kClippedMarker =
    "<response clipped><NOTE>To save on context only part of this file has been shown to you. "
    "You should retry this tool after you have searched inside the file with `grep -n` in order "
    "to find the line numbers of what you are looking for.</NOTE>";

// Length of the valid UTF-8 sequence at in[i], or 0 when there is none.
inline size_t utf8SequenceAt(std::string_view in, size_t i) {
  unsigned char c = static_cast<unsigned char>(in[i]);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (len == 0 || i + len > in.size()) return 0;
  if (len == 1) return 1;
  uint32_t cp = c & (0xff >> (len + 1));
  for (size_t k = 1; k < len; ++k) {
    unsigned char d = static_cast<unsigned char>(in[i + k]);
    if ((d & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
  if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

inline bool isValidUtf8(std::string_view in) {
  for (size_t i = 0; i < in.size();) {
    size_t len = utf8SequenceAt(in, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

// Replaces each invalid byte with U+FFFD so the host accepts the text.
inline std::string sanitizeUtf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    size_t len = utf8SequenceAt(in, i);
    if (len == 0) {
      out += "\xef\xbf\xbd";
      ++i;
    } else {
      out.append(in.substr(i, len));
      i += len;
    }
  }
  return out;
}

// trae's maybe_truncate: text longer than kMaxResponseChars characters (code points) keeps the
// first kMaxResponseChars and gets kClippedMarker appended; `force` appends the marker anyway
// (the text was already cut elsewhere). REQUIRES: valid UTF-8.
inline std::string clip(std::string text, bool force = false) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xc0) == 0x80) continue;
    if (chars == kMaxResponseChars) {
      text.resize(i);
      text += kClippedMarker;
      return text;
    }
    ++chars;
  }
  if (force) text += kClippedMarker;
  return text;
}

// Splits on '\n' like Python's str.split("\n"): "a\n" gives {"a", ""}.
inline std::vector<std::string_view> splitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  for (;;) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      lines.push_back(text.substr(start));
      return lines;
    }
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
}

// trae's _make_output: "Here's the result of running `cat -n` on <descriptor>:\n" followed by
// each line as "%6d\t<line>" and a final newline. Tabs are kept as they are.
inline std::string catN(std::string_view content, std::string_view descriptor, int64_t first_line) {
  std::string out = "Here's the result of running `cat -n` on ";
  out.append(descriptor);
  out += ":\n";
  int64_t n = first_line;
  bool first = true;
  for (std::string_view line : splitLines(content)) {
    if (!first) out += '\n';
    first = false;
    char num[32];
    std::snprintf(num, sizeof num, "%6lld\t", static_cast<long long>(n++));
    out += num;
    out.append(line);
  }
  out += '\n';
  return out;
}

// Python's repr of a list of ints: "[1, 5]".
inline std::string pyList(const std::vector<int64_t>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(values[i]);
  }
  return out + "]";
}

}  // namespace agentd::filetools
