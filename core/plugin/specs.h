// Turns the [plugins] section of a Config into the PluginSpecs the host loads.
#pragma once

#include <vector>

#include "config/config.h"
#include "plugin/host.h"

namespace agentd::plugin {

// Explicit [plugins.NAME] entries first, then every *.so in plugins.directories (sorted by
// name) that is not also an explicit entry. Missing directories are skipped (and logged). The MCP
// adapter (the plugin named `mcp`, or mcp.so found in a directory) gets [mcp.servers.*] added to
// the "servers" object of its config.
std::vector<PluginSpec> specsFromConfig(const config::Config& cfg);

}  // namespace agentd::plugin
