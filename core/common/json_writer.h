// Length-aware string and key output for any RapidJSON writer: std::string_view has no
// terminating NUL, and embedded NULs must survive, so the size is always passed explicitly.
#pragma once

#include <rapidjson/rapidjson.h>

#include <string>
#include <string_view>

namespace agentd::json {

// A RapidJSON output stream that writes into a std::string it owns and hands over by take(), so
// that a writer builds its text in the string it returns: no copy at the end. Writing a character
// is a pointer bump: RapidJSON's writer reserves room for each token (PutReserve below) and then
// writes it unchecked (PutUnsafe), as it does into its own StringBuffer. Give the expected size
// when it can be estimated; the string grows by doubling beyond it.
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
    if (p_ == end_) grow(1);
    *p_++ = c;
  }
  void reserve(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) grow(n);
  }
  void putUnsafe(char c) { *p_++ = c; }
  void Flush() {}
  // The text written so far. The stream is empty afterwards.
  std::string take() {
    s_.resize(static_cast<size_t>(p_ - s_.data()));
    std::string out = std::move(s_);
    s_.clear();
    p_ = end_ = s_.data();
    return out;
  }

 private:
  void grow(size_t n) {
    size_t used = static_cast<size_t>(p_ - s_.data());
    s_.resize(s_.size() * 2 > used + n ? s_.size() * 2 : used + n);
    p_ = s_.data() + used;
    end_ = s_.data() + s_.size();
  }

  std::string s_;
  char* p_;
  char* end_;
};

// Found by argument-dependent lookup from RapidJSON's writer; they replace its generic versions
// (no reservation, Put per character).
inline void PutReserve(StringOutput& s, size_t n) { s.reserve(n); }
inline void PutUnsafe(StringOutput& s, char c) { s.putUnsafe(c); }

template <class Writer>
void writeString(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

template <class Writer>
void writeKey(Writer& w, std::string_view s) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

}  // namespace agentd::json
