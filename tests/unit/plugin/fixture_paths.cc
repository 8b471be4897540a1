#include "unit/plugin/fixture_paths.h"

#include "support/subprocess.h"

namespace agentd::testing {

std::string tempDir(const std::string& tag) { return freshDir(tag); }

}  // namespace agentd::testing
