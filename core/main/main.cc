// The agentd command line. Exit codes: 0 ok, 1 runtime error, 2 usage or config error.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "main/commands.h"
#include "main/mcp_cmd.h"
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
  serve_cmd->add_option("--listen", serve.listen,
                        "HOST:PORT for the API (port 0 = ephemeral); overrides [server].listen");
  serve_cmd->add_option("--metrics-listen", serve.metrics_listen,
                        "HOST:PORT for /metrics (port 0 = ephemeral); overrides [metrics].listen");
  serve_cmd->add_option("--log-level", serve.log_level, "debug, info, warn or error");

  ConfigOptions validate;
  CLI::App* validate_cmd =
      app.add_subcommand("validate-config", "Check a configuration (and its plugins); exit 0 or 2");
  validate_cmd->add_option("--config,-c", validate.config, "Configuration file")->required();

  ConfigOptions show;
  CLI::App* show_cmd =
      app.add_subcommand("show-config", "Print the effective configuration with secrets redacted");
  show_cmd->add_option("--config,-c", show.config, "Configuration file");
  show_cmd->add_flag("--json", show.json, "Print JSON instead of TOML");
  show_cmd->add_flag("--schema", show.schema, "Print the JSON Schema of the configuration file");

  RunOptions run;
  CLI::App* run_cmd = app.add_subcommand("run", "Run one task and show its progress");
  run_cmd->add_option("task", run.task, "The task (or --file)");
  run_cmd->add_option("--file,-f", run.file, "Read the task from this file");
  run_cmd->add_option("--config,-c", run.config,
                      "Configuration file (default: $AGENTD_CONFIG, ./agentd.toml, "
                      "./config/agentd.toml)");
  run_cmd->add_option("--agent,-a", run.agent, "Agent to run (default: default)");
  run_cmd->add_option("--provider,-p", run.provider, "A [model_providers] name");
  run_cmd->add_option("--model,-m", run.model, "A [models] name, or the provider's model id");
  run_cmd->add_option("--max-steps", run.max_steps, "Step limit");
  run_cmd->add_option("--working-dir,-w", run.working_dir, "Absolute working directory");
  run_cmd->add_flag("--must-patch,--mp", run.must_patch,
                    "Refuse completion while git diff is empty");
  run_cmd->add_option("--patch-path,--pp", run.patch_path, "Where to write the patch");
  run_cmd->add_option("--trajectory-file,-t", run.trajectory_file, "Where to write the trajectory");

  RunOptions inter;
  CLI::App* inter_cmd =
      app.add_subcommand("interactive", "A prompt loop running one task per line");
  inter_cmd->add_option("--config,-c", inter.config, "Configuration file");
  inter_cmd->add_option("--agent,-a", inter.agent, "Agent to run");
  inter_cmd->add_option("--provider,-p", inter.provider, "A [model_providers] name");
  inter_cmd->add_option("--model,-m", inter.model, "A [models] name, or the provider's model id");
  inter_cmd->add_option("--max-steps", inter.max_steps, "Step limit");
  inter_cmd->add_option("--working-dir,-w", inter.working_dir, "Absolute working directory");

  RunOptions tools;
  CLI::App* tools_cmd = app.add_subcommand("tools", "List every tool with its schema");
  tools_cmd->add_option("--config,-c", tools.config, "Configuration file");

  PluginsListOptions plist;
  CLI::App* plugins_cmd = app.add_subcommand("plugins", "Inspect plugins");
  plugins_cmd->require_subcommand(1);
  CLI::App* list_cmd = plugins_cmd->add_subcommand("list", "Load plugins and list them");
  list_cmd->add_option("--config,-c", plist.config, "Configuration file");
  list_cmd->add_option("--plugin", plist.plugins, "A plugin .so to load (repeatable)");
  list_cmd->add_flag("--json", plist.json, "Print JSON instead of a table");

  int mcp_rc = kExitUsage;
  CLI::App* mcp_cmd = addMcpCommands(app, &mcp_rc);  // runs during parse, see mcp_cmd.h

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
  if (mcp_cmd->parsed()) return mcp_rc;
  if (run_cmd->parsed()) return runRun(run);
  if (inter_cmd->parsed()) return runInteractive(inter);
  if (tools_cmd->parsed()) return runTools(tools);
  if (validate_cmd->parsed()) return runValidateConfig(validate);
  if (show_cmd->parsed()) return runShowConfig(show);
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
