// Builds the model client from the [model_providers] and [models] sections.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "config/config.h"
#include "llm/client.h"

namespace agentd::agent {

// An extra model made up on the command line (--provider P --model M); empty fields: none.
struct AdHocModel {
  std::string name;      // the name tasks use
  std::string provider;  // a [model_providers] name
  std::string model;     // the provider's model id
};

// Returns null (and OK) when the configuration names no model.
Result<std::shared_ptr<llm::LlmClient>> makeLlmClient(const config::Config& cfg,
                                                      const AdHocModel& extra = {});
// True iff the keys that makeLlmClient reads differ between the two change lists.
bool llmKeysChanged(const std::vector<std::string>& changed_keys);

}  // namespace agentd::agent
