// `agentd mcp ...` (core/main/mcp_cmd.cc): list-tools, call and conformance-client.
#pragma once

#include <CLI/CLI.hpp>

namespace agentd {

// Adds the `mcp` subcommand tree to app and returns it. The parsed subcommand runs from its
// CLI11 callback during app.parse() and leaves its exit code in *exit_code.
CLI::App* addMcpCommands(CLI::App& app, int* exit_code);

}  // namespace agentd
