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
  std::string log_level;       // overrides LOG_LEVEL and the config when set
};
// Runs until SIGTERM/SIGINT; SIGHUP reloads the configuration.
int runServe(const ServeOptions& options);

struct PluginsListOptions {
  std::string config;
  std::vector<std::string> plugins;
  bool json = false;
};
struct ConfigOptions {
  std::string config;
  bool json = false;
  bool schema = false;
};
// Validates the configuration, loads its plugins and checks the agents' references, like
// `nginx -t`: exit 0 when valid, 2 with every error (file:line:col) otherwise.
int runValidateConfig(const ConfigOptions& options);
// Prints the effective configuration (TOML, or JSON) with secrets redacted; or, with schema,
// the JSON Schema of the configuration file.
int runShowConfig(const ConfigOptions& options);

// Loads the configured plugins (and/or explicit files) and prints name, kind, version, ABI,
// tools and load errors. Exit 1 when any plugin failed to load.
int runPluginsList(const PluginsListOptions& options);

}  // namespace agentd
