#include "unit/plugin/fixture_paths.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>

namespace agentd::testing {

std::string tempDir(const std::string& tag) {
  static std::atomic<int> n{0};
  auto dir = std::filesystem::path(AGENTD_BINARY_DIR) / "tests" / "tmp" /
             (tag + "-" + std::to_string(getpid()) + "-" + std::to_string(n++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace agentd::testing
