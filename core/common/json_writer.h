// Length-aware string and key output for any RapidJSON writer: std::string_view has no
// terminating NUL, and embedded NULs must survive, so the size is always passed explicitly.
#pragma once

#include <rapidjson/rapidjson.h>

#include <string>
#include <string_view>

namespace agentd::json {

// A RapidJSON output stream that appends to a std::string, so that a writer builds its text in
// the string it returns: no buffer that grows by copies and is copied out at the end. Reserve
// the string's capacity first when the size can be estimated.
class StringOutput {
 public:
  using Ch = char;
  explicit StringOutput(std::string* s) : s_(s) {}
  void Put(char c) { s_->push_back(c); }
  void Flush() {}

 private:
  std::string* s_;
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
