#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "agent/daemon.h"
#include "config/config.h"
#include "main/commands.h"
#include "observability/log.h"
#include "plugin/host.h"
#include "plugin/specs.h"

namespace agentd {

namespace fs = std::filesystem;

int runValidateConfig(const ConfigOptions& options) {
  // The command prints its own findings; the log would repeat them.
  if (std::getenv("LOG_LEVEL") == nullptr) log::setLevel(log::Level::kOff);
  std::vector<config::ConfigError> errors;
  auto cfg = config::load(options.config, {}, &errors);
  if (!cfg.ok()) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.toString().c_str());
    std::fprintf(stderr, "%s: configuration is invalid (%zu error%s)\n", options.config.c_str(),
                 errors.size(), errors.size() == 1 ? "" : "s");
    return kExitUsage;
  }
  // Like `nginx -t`: also load the plugins and check what the agents refer to.
  std::string state_dir =
      (fs::temp_directory_path() / ("agentd-validate-" + std::to_string(getpid()))).string();
  int rc = kExitOk;
  {
    plugin::PluginHost host({state_dir, std::chrono::milliseconds(2000)});
    std::vector<plugin::LoadError> load_errors;
    auto set = host.prepare(plugin::specsFromConfig(**cfg), &load_errors, /*keep_going=*/true);
    for (const auto& e : load_errors) {
      std::string where = e.path;
      for (const auto& [name, entry] : (*cfg)->plugins.entries) {
        if (entry.path == e.path) {
          auto w = (*cfg)->where("plugins." + name + ".path");
          where = w.file + ":" + std::to_string(w.line) + ":" + std::to_string(w.column) +
                  ": plugins." + name + ".path";
        }
      }
      std::fprintf(stderr, "%s: %s [%s]\n", where.c_str(), e.message.c_str(), e.reason.c_str());
      rc = kExitUsage;
    }
    if (set.ok()) {
      Status refs = checkReferences(**cfg, **set);
      if (!refs.isOk()) {
        std::fprintf(stderr, "%s\n", refs.message().c_str());
        rc = kExitUsage;
      }
      host.abandon(*set);
    }
  }
  std::error_code ec;
  fs::remove_all(state_dir, ec);
  if (rc == kExitOk) {
    std::printf("%s: configuration is valid\n", options.config.c_str());
  } else {
    std::fprintf(stderr, "%s: configuration is invalid\n", options.config.c_str());
  }
  return rc;
}

int runShowConfig(const ConfigOptions& options) {
  if (options.schema) {
    std::cout << config::jsonSchema();
    return kExitOk;
  }
  if (options.config.empty()) {
    std::fprintf(stderr, "show-config: --config is required\n");
    return kExitUsage;
  }
  std::vector<config::ConfigError> errors;
  auto cfg = config::load(options.config, {}, &errors);
  if (!cfg.ok()) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.toString().c_str());
    return kExitUsage;
  }
  std::cout << (options.json ? config::renderJson(**cfg) : config::renderToml(**cfg));
  return kExitOk;
}

}  // namespace agentd
