// The daemon's configuration: one TOML file (plus `include`d files merged in order) parsed with
// toml++ (no exceptions), validated against one declarative schema, and frozen into an immutable
// Config. Every error names file:line:col, the key path and what was expected; all errors are
// reported at once. Precedence: command line > environment (AGENTD_<SECTION>_<KEY>) > file.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace agentd::config {

struct SourceLoc {
  std::string file;  // a file path, or "env:NAME" for an environment override
  int line = 0;
  int column = 0;
};

struct ConfigError {
  SourceLoc where;
  std::string key;      // dotted key path, e.g. "plugins.good.path"
  std::string message;  // what was wrong and what was expected
  // "file:line:col: key: message"
  std::string toString() const;
};

struct AuthConfig {
  std::vector<std::string> api_keys;  // secret
  std::string api_keys_file;          // one key per line
  struct Jwt {
    std::string hs256_secret;  // secret
    std::string rs256_public_key_file;
    std::string issuer;
    std::string audience;
    std::string roles_claim = "roles";
  } jwt;
};

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";  // restart required
  int shutdown_grace_seconds = 25;
  int max_body_bytes = 1 << 20;
  int max_header_bytes = 16 << 10;
  int request_timeout_seconds = 30;
  int max_concurrent_tasks = 64;
  int max_queued_tasks = 256;
  std::vector<std::string> cors_origins;
  AuthConfig auth;
  struct RateLimit {
    double requests_per_second = 0;  // 0: off
    int burst = 20;
  } rate_limit;
};

struct MetricsConfig {
  std::string listen = "127.0.0.1:9090";  // restart required
};

struct LoggingConfig {
  std::string level = "info";
};

struct ReloadConfig {
  bool watch = true;               // inotify on the config directories
  int debounce_ms = 50;            // quiet time after the last event before reloading
  int poll_interval_seconds = 10;  // hash poll fallback; 0 disables it
};

struct PluginEntry {
  std::string name;  // the table name under [plugins]
  std::string path;  // absolute
  std::string sha256;
  bool required = true;
  std::string config_json = "{}";  // the `config` table as JSON
};

struct PluginsConfig {
  std::vector<std::string> directories;  // absolute; every *.so inside is loaded
  std::string state_dir;                 // restart required; default $TMPDIR/agentd-<pid>
  int drain_timeout_ms = 5000;
  int workers = 8;
  int call_timeout_ms = 120000;
  std::map<std::string, PluginEntry> entries;
};

struct ProviderConfig {
  std::string name;
  std::string type;  // openai | anthropic | scripted | replay
  std::string base_url;
  std::string api_key;  // secret
  std::string api_version;
  std::map<std::string, std::string> headers;  // secret values
  int connect_timeout_ms = 10000;
  int first_byte_timeout_ms = 60000;
  int timeout_ms = 600000;
  int max_attempts = 4;
  int retry_max_elapsed_ms = 120000;
  std::string record;         // cassette to record to (JSON lines)
  std::string cassette;       // replay: cassette to answer from
  std::string script;         // scripted: turns to return
  bool script_cycle = false;  // scripted: start over after the last turn
};

struct ModelConfig {
  std::string name;
  std::string provider;
  std::string model;
  int max_tokens = 4096;
  double temperature = 0.5;
  double top_p = 1.0;
  bool parallel_tool_calls = true;
  std::vector<std::string> fallback;
  bool cache = false;
  int cache_ttl_seconds = 300;
  int cache_max_bytes = 16 << 20;
};

struct AgentConfig {
  std::string name;
  std::string model;
  int max_steps = 20;
  std::vector<std::string> tools;
  std::vector<std::string> skills;
  std::vector<std::string> mcp_servers;
  std::string system_prompt;
  std::string working_dir;  // default for its tasks; absolute
  int concurrency = 4;
  int tool_timeout_seconds = 120;
};

struct McpServerConfig {
  std::string name;
  std::string command;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // secret values
  std::string cwd;
  std::string url;
  std::map<std::string, std::string> headers;  // secret values
  int timeout_seconds = 60;
  bool required = false;
  std::vector<std::string> allow;
  std::vector<std::string> deny;
};

struct Config {
  std::string path;                       // the main file as given
  std::vector<std::string> files;         // every file read (main first, then includes)
  std::vector<std::string> include_dirs;  // directories the include patterns search
  std::string sha256;                     // of every file's bytes (the reload no-op check)
  ServerConfig server;
  MetricsConfig metrics;
  LoggingConfig logging;
  ReloadConfig reload;
  PluginsConfig plugins;
  std::map<std::string, ProviderConfig> model_providers;
  std::map<std::string, ModelConfig> models;
  std::map<std::string, AgentConfig> agents;
  struct Mcp {
    std::map<std::string, McpServerConfig> servers;
  } mcp;
  // Where each leaf value came from, by dotted key path (list items as key[i]).
  std::map<std::string, SourceLoc> locations;

  // Location of key, or the main file at 0:0 when unknown.
  SourceLoc where(const std::string& key) const;
};

// Command-line values that override the file and the environment.
struct Overrides {
  std::string metrics_listen;
  std::string server_listen;
  std::string log_level;
};

// Loads and validates path (and its includes). On failure returns InvalidArgument whose message
// lists every error, one per line; errors, when given, receives them.
Result<std::shared_ptr<const Config>> load(const std::string& path, const Overrides& overrides = {},
                                           std::vector<ConfigError>* errors = nullptr);

// The effective configuration as TOML (or JSON), secrets replaced by "<redacted>".
std::string renderToml(const Config& cfg, bool redact = true);
std::string renderJson(const Config& cfg, bool redact = true);
// Dotted key paths whose effective values differ between a and b (secrets compared, not shown).
std::vector<std::string> changedKeys(const Config& a, const Config& b);
// Keys that cannot change without a restart (each also covers the keys below it).
const std::vector<std::string>& restartOnlyKeys();
// True when changing key needs a restart.
bool isRestartOnly(const std::string& key);
// The JSON Schema (draft 2020-12) of the configuration file, generated from the same schema the
// loader uses.
std::string jsonSchema();

}  // namespace agentd::config
