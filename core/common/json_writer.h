// RapidJSON output into a std::string (StringOutput), and length-aware string and key output for
// any RapidJSON writer: std::string_view has no terminating NUL, and embedded NULs must survive,
// so the size is always passed explicitly.
#pragma once

#include <rapidjson/rapidjson.h>

#include <cstring>
#include <string>
#include <string_view>

namespace agentd::json {

// A RapidJSON output stream that writes into a std::string it owns and hands over by take(), so
// that a writer builds its text in the string it returns: no copy at the end. Writing a character
// is a compare and a pointer bump (std::string::push_back also keeps the size and the terminating
// NUL up to date at every character). Give the expected size when it can be estimated: the
// string is sized to it at once (zero-filled) and at least doubles when the text outgrows it.
//
// RapidJSON's writer also reserves room before a token (PutReserve) and then writes unchecked
// (PutUnsafe) when a stream offers both, as its StringBuffer does; this one does not, on
// purpose: the writer reserves six bytes per character of a string (the longest escape), which
// would size the buffer for six times a large tool result.
class StringOutput {
 public:
  using Ch = char;
  explicit StringOutput(size_t size_hint = 256) {
    s_.resize(size_hint < 16 ? 16 : size_hint);
    p_ = s_.data();
    end_ = p_ + s_.size();
  }
  StringOutput(const StringOutput&) = delete;
  StringOutput& operator=(const StringOutput&) = delete;

  void Put(char c) {
    if (p_ == end_) room(1);
    *p_++ = c;
  }
  void Flush() {}
  // Appends text as it is, with one copy. REQUIRES: text does not point into this stream.
  void append(std::string_view text) {
    if (text.empty()) return;
    if (static_cast<size_t>(end_ - p_) < text.size()) room(text.size());
    std::memcpy(p_, text.data(), text.size());
    p_ += text.size();
  }
  // The text written so far. The stream is empty afterwards.
  std::string take() {
    s_.resize(static_cast<size_t>(p_ - s_.data()));
    std::string out = std::move(s_);
    s_.clear();
    p_ = end_ = s_.data();
    return out;
  }

 private:
  // Makes room for n more characters: at least doubles the string.
  void room(size_t n) {
    size_t used = static_cast<size_t>(p_ - s_.data());
    size_t size = used < 16 ? 32 : used * 2;
    s_.resize(size < used + n ? used + n : size);
    p_ = s_.data() + used;
    end_ = s_.data() + s_.size();
  }

  std::string s_;
  char* p_;
  char* end_;
};

template <class Writer>
void writeString(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

template <class Writer>
void writeKey(Writer& w, std::string_view s) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

}  // namespace agentd::json
