// The daemon's configuration: one TOML file parsed (toml++, no exceptions), validated against
// the schema below and frozen into an immutable Config. Every error names file:line:col, the key
// path and what was expected; all errors are reported at once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace agentd::config {

struct ConfigError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string key;      // dotted key path, e.g. "plugins.good.path"
  std::string message;  // what was wrong / expected
  // "file:line:col: key: message"
  std::string toString() const;
};

struct PluginConfig {
  std::string name;         // the table name under [plugins]
  std::string path;         // absolute (relative paths resolve against the config's directory)
  std::string sha256;       // optional pin
  std::string config_json = "{}";  // the plugin's `config` table as JSON
  bool required = true;     // a required plugin that fails to load makes the daemon not ready
};

struct AgentConfig {
  std::string name;
  std::vector<std::string> tools;  // tool names offered by plugins
  std::string system_prompt;
  int max_steps = 20;
};

struct Config {
  std::string path;    // the file as given
  std::string sha256;  // of the file's bytes
  struct Server {
    std::string listen = "127.0.0.1:8080";
    int shutdown_grace_seconds = 25;
  } server;
  struct Metrics {
    std::string listen = "127.0.0.1:9090";
  } metrics;
  struct Logging {
    std::string level = "info";
  } logging;
  struct Plugins {
    std::vector<std::string> directories;  // every *.so inside is loaded (absolute)
    std::string state_dir;                 // private .so copies; default $TMPDIR/agentd-<pid>
    int drain_timeout_ms = 5000;
    int workers = 8;
    int call_timeout_ms = 120000;
    std::vector<PluginConfig> entries;
  } plugins;
  std::vector<AgentConfig> agents;
};

// Loads and validates path. On failure returns InvalidArgument whose message lists every error
// (one per line) and, when errors is given, appends them there.
Result<std::shared_ptr<const Config>> load(const std::string& path,
                                           std::vector<ConfigError>* errors = nullptr);
// Same, from text already read (file names the source in errors).
Result<std::shared_ptr<const Config>> parse(const std::string& text, const std::string& file,
                                            std::vector<ConfigError>* errors = nullptr);

}  // namespace agentd::config
