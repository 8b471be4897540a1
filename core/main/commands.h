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
  std::string listen;          // API listener; overrides [server].listen when set
  std::string metrics_listen;  // overrides the config when set
  std::string log_level;       // overrides LOG_LEVEL and the config when set
};
// Serves the API and metrics until SIGTERM/SIGINT (graceful drain; a second signal exits at
// once); SIGHUP reloads the configuration.
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

struct RunOptions {
  std::string task;
  std::string file;
  std::string config;
  std::string agent;
  std::string provider;
  std::string model;
  int max_steps = 0;
  std::string working_dir;
  bool must_patch = false;
  std::string patch_path;
  std::string trajectory_file;
};
// Runs one task with live progress; exit 0 when it completed, 1 when it did not, 2 on usage or
// configuration errors.
int runRun(const RunOptions& options);
// A prompt loop: each line is a task; `status`, `help`, `clear`, `exit`.
int runInteractive(const RunOptions& options);
// Prints every tool the configured plugins offer, with description and schema.
int runTools(const RunOptions& options);

// Loads the configured plugins (and/or explicit files) and prints name, kind, version, ABI,
// tools and load errors. Exit 1 when any plugin failed to load.
int runPluginsList(const PluginsListOptions& options);

}  // namespace agentd
