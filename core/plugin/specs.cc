#include "plugin/specs.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "observability/log.h"

namespace agentd::plugin {

namespace fs = std::filesystem;

std::vector<PluginSpec> specsFromConfig(const config::Config& cfg) {
  std::vector<PluginSpec> specs;
  std::set<std::string> explicit_paths;
  for (const auto& [name, e] : cfg.plugins.entries) {
    PluginSpec s;
    s.path = e.path;
    s.sha256 = e.sha256;
    s.config_json = e.config_json;
    s.name = e.name;
    specs.push_back(s);
    std::error_code ec;
    explicit_paths.insert(fs::weakly_canonical(e.path, ec).string());
  }
  for (const auto& dir : cfg.plugins.directories) {
    std::error_code ec;
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() != ".so") continue;
      if (!entry.is_regular_file(ec)) continue;
      if (explicit_paths.count(fs::weakly_canonical(entry.path(), ec).string())) continue;
      found.push_back(entry.path().string());
    }
    if (ec) log::warn("plugin directory unreadable", {{"directory", dir}, {"error", ec.message()}});
    std::sort(found.begin(), found.end());
    for (auto& p : found) {
      PluginSpec s;
      s.path = std::move(p);
      specs.push_back(std::move(s));
    }
  }
  return specs;
}

}  // namespace agentd::plugin
