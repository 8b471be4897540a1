// The subcommands of the agentd CLI. Each returns the process exit code.
#pragma once

#include <agentd/plugin.h>

#include <string>
#include <vector>

namespace agentd {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;

struct ServeOptions {
  std::string config;
  std::string metrics_listen;  // overrides the config when set
};
// Runs until SIGTERM/SIGINT; SIGHUP reloads the configuration.
int runServe(const ServeOptions& options);

struct PluginsListOptions {
  std::string config;
  std::vector<std::string> plugins;
  bool json = false;
};
// Loads the configured plugins (and/or explicit files) and prints name, kind, version, ABI,
// tools and load errors. Exit 1 when any plugin failed to load.
int runPluginsList(const PluginsListOptions& options);

}  // namespace agentd
