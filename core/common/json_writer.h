// Length-aware string and key output for any RapidJSON writer: std::string_view has no
// terminating NUL, and embedded NULs must survive, so the size is always passed explicitly.
#pragma once

#include <rapidjson/rapidjson.h>

#include <string_view>

namespace agentd::json {

template <class Writer>
void writeString(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

template <class Writer>
void writeKey(Writer& w, std::string_view s) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

}  // namespace agentd::json
