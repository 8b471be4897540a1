// Snapshot: one immutable view of what the daemon runs with (configuration, plugin set, model
// client). A task keeps the snapshot it started on until it ends; reloads publish new ones.
#pragma once

#include <cstdint>
#include <memory>

#include "config/config.h"
#include "llm/client.h"
#include "plugin/host.h"

namespace agentd {

struct Snapshot {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<const plugin::PluginSet> plugins;
  std::shared_ptr<llm::LlmClient> llm;  // null when no model is configured
  uint64_t generation = 0;
};

}  // namespace agentd
