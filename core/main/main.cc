// The agentd command line. Exit codes: 0 ok, 1 runtime error, 2 usage or config error.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "main/commands.h"
#include "observability/build_info.h"

int main(int argc, char** argv) {
  using namespace agentd;
  CLI::App app{"agentd: a native agent runtime"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("--version", version, "Print version and plugin ABI, then exit");

  ServeOptions serve;
  CLI::App* serve_cmd = app.add_subcommand("serve", "Run the daemon");
  serve_cmd->add_option("--config,-c", serve.config, "Configuration file")->required();
  serve_cmd->add_option("--metrics-listen", serve.metrics_listen,
                        "HOST:PORT for /metrics (port 0 = ephemeral); overrides [metrics].listen");

  PluginsListOptions plist;
  CLI::App* plugins_cmd = app.add_subcommand("plugins", "Inspect plugins");
  plugins_cmd->require_subcommand(1);
  CLI::App* list_cmd = plugins_cmd->add_subcommand("list", "Load plugins and list them");
  list_cmd->add_option("--config,-c", plist.config, "Configuration file");
  list_cmd->add_option("--plugin", plist.plugins, "A plugin .so to load (repeatable)");
  list_cmd->add_flag("--json", plist.json, "Print JSON instead of a table");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  if (version) {
    std::printf("agentd %s (revision %s, plugin ABI %u.%u)\n", build::kVersion, build::kRevision,
                AGENTD_ABI_MAJOR, AGENTD_ABI_MINOR);
    return kExitOk;
  }
  if (serve_cmd->parsed()) return runServe(serve);
  if (list_cmd->parsed()) {
    if (plist.config.empty() && plist.plugins.empty()) {
      std::fprintf(stderr, "plugins list: give --config FILE or --plugin PATH\n");
      return kExitUsage;
    }
    return runPluginsList(plist);
  }
  std::cout << app.help();
  return kExitUsage;
}
