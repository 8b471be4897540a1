// Test support: pieces of an agentd.toml that tests assemble.
#pragma once

#include <string>

namespace agentd::testing {

// One plugin's section: [plugins.NAME] with its shared library's path. Keys that follow (such as
// config = ...) belong to it.
inline std::string pluginToml(const std::string& name, const std::string& path) {
  return "[plugins." + name + "]\npath = \"" + path + "\"\n";
}

}  // namespace agentd::testing
