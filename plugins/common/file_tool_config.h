// The config both file tools (str_replace_based_edit_tool, json_edit_tool) take: the same keys,
// the same rules, one definition.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "plugin_json.h"

namespace agentd::plugins {

inline constexpr size_t kDefaultMaxFileBytes = 64 << 20;  // larger files are refused

inline constexpr const char* kFileToolConfigSchema =
    R"({"type":"object","properties":{)"
    R"("allow_any_path":{"type":"boolean"},)"
    R"("max_file_bytes":{"type":"integer","minimum":1}},)"
    R"("additionalProperties":false})";

struct FileToolConfig {
  bool allow_any_path = false;  // no working directory confinement (see the plugins' READMEs)
  size_t max_file_bytes = kDefaultMaxFileBytes;
};

// Throws agentd::sdk::Error(AGENTD_EINVAL) naming the bad key.
inline FileToolConfig parseFileToolConfig(std::string_view json) {
  using agentd::sdk::Error;
  rapidjson::Document doc = parseObject(json.empty() ? "{}" : json, "config");
  FileToolConfig c;
  for (const auto& m : doc.GetObject()) {
    std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (key == "allow_any_path") {
      if (!m.value.IsBool()) throw Error(AGENTD_EINVAL, "allow_any_path must be a boolean");
      c.allow_any_path = m.value.GetBool();
    } else if (key == "max_file_bytes") {
      if (!m.value.IsUint64() || m.value.GetUint64() == 0) {
        throw Error(AGENTD_EINVAL, "max_file_bytes must be an integer >= 1");
      }
      c.max_file_bytes = static_cast<size_t>(m.value.GetUint64());
    } else {
      throw Error(AGENTD_EINVAL, "unknown config key: " + std::string(key));
    }
  }
  return c;
}

}  // namespace agentd::plugins
