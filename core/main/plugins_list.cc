#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "common/json.h"
#include "config/config.h"
#include "main/commands.h"
#include "observability/log.h"
#include "plugin/host.h"
#include "plugin/specs.h"

namespace agentd {

namespace fs = std::filesystem;

int runPluginsList(const PluginsListOptions& options) {
  // Command output goes to stdout; only warnings and errors go to the log unless LOG_LEVEL says.
  if (std::getenv("LOG_LEVEL") == nullptr) log::setLevel(log::Level::kWarn);
  std::vector<plugin::PluginSpec> specs;
  if (!options.config.empty()) {
    auto cfg = config::load(options.config);
    if (!cfg.ok()) {
      std::fprintf(stderr, "%s\n", cfg.status().message().c_str());
      return kExitUsage;
    }
    specs = plugin::specsFromConfig(**cfg);
  }
  for (const auto& p : options.plugins) {
    plugin::PluginSpec s;
    s.path = fs::absolute(p).string();
    specs.push_back(s);
  }
  std::string state_dir =
      (fs::temp_directory_path() / ("agentd-list-" + std::to_string(getpid()))).string();
  std::vector<plugin::LoadError> errors;
  {
    plugin::PluginHost host({state_dir, std::chrono::milliseconds(2000)});
    (void)host.apply(specs, &errors, /*keep_going=*/true);
    auto set = host.current();
    if (options.json) {
      std::string out = "{\"plugins\":[";
      bool first = true;
      for (const auto& [name, e] : set->plugins()) {
        if (!first) out += ",";
        first = false;
        out += "{\"name\":" + json::quote(name) + ",\"kind\":" + json::quote(e.gen->kindName()) +
               ",\"version\":" + json::quote(e.gen->version()) +
               ",\"abi\":" + json::quote(e.gen->library().abiString()) +
               ",\"path\":" + json::quote(e.spec.path) + ",\"tools\":[";
        bool ft = true;
        for (const auto& t : *e.gen->tools()) {
          if (!ft) out += ",";
          ft = false;
          out += "{\"name\":" + json::quote(t.name) +
                 ",\"description\":" + json::quote(t.description) +
                 ",\"input_schema\":" + t.input_schema + "}";
        }
        out += "],\"skills\":[";
        bool fs2 = true;
        for (const auto& s : *e.gen->skills()) {
          if (!fs2) out += ",";
          fs2 = false;
          out += "{\"name\":" + json::quote(s.name) +
                 ",\"description\":" + json::quote(s.description) + "}";
        }
        out += "]}";
      }
      out += "],\"errors\":[";
      for (size_t i = 0; i < errors.size(); ++i) {
        if (i) out += ",";
        out += "{\"path\":" + json::quote(errors[i].path) +
               ",\"reason\":" + json::quote(errors[i].reason) +
               ",\"message\":" + json::quote(errors[i].message) + "}";
      }
      out += "]}";
      std::cout << out << "\n";
    } else {
      std::printf("%-24s %-12s %-10s %-5s %s\n", "NAME", "KIND", "VERSION", "ABI", "TOOLS");
      for (const auto& [name, e] : set->plugins()) {
        std::string tools;
        for (const auto& t : *e.gen->tools()) tools += (tools.empty() ? "" : ",") + t.name;
        for (const auto& s : *e.gen->skills()) {
          tools += (tools.empty() ? "skill:" : ",skill:") + s.name;
        }
        std::printf("%-24s %-12s %-10s %-5s %s\n", name.c_str(), e.gen->kindName(),
                    e.gen->version().c_str(), e.gen->library().abiString().c_str(), tools.c_str());
      }
      for (const auto& err : errors) {
        std::printf("error: %s [%s]: %s\n", err.path.c_str(), err.reason.c_str(),
                    err.message.c_str());
      }
    }
  }
  std::error_code ec;
  fs::remove_all(state_dir, ec);
  return errors.empty() ? kExitOk : kExitRuntime;
}

}  // namespace agentd
