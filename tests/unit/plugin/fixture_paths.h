// Paths of the fixture plugins built by tests/fixtures/plugins.
#pragma once

#include <string>

namespace agentd::testing {

inline std::string fixture(const std::string& name) {
  return std::string(AGENTD_FIXTURE_DIR) + "/" + name + ".so";
}

// A fresh private directory for plugin copies, removed at exit.
std::string tempDir(const std::string& tag);

}  // namespace agentd::testing
