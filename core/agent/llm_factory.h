// Builds the model client from the [model_providers] and [models] sections.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "config/config.h"
#include "llm/client.h"

namespace boost::asio {
class io_context;
}

namespace agentd::agent {

// An extra model made up on the command line (--provider P --model M); empty fields: none.
struct AdHocModel {
  std::string name;      // the name tasks use
  std::string provider;  // a [model_providers] name
  std::string model;     // the provider's model id
};

// Returns null (and OK) when the configuration names no model. With io, the client runs no
// thread of its own: io (run by one thread) drives its HTTP loop, so tasks on io make model
// calls without a thread hand-off; its blocking chat() must then not be called on io's thread.
Result<std::shared_ptr<llm::LlmClient>> makeLlmClient(const config::Config& cfg,
                                                      const AdHocModel& extra = {},
                                                      boost::asio::io_context* io = nullptr);
// True iff the keys that makeLlmClient reads differ between the two change lists.
bool llmKeysChanged(const std::vector<std::string>& changed_keys);

}  // namespace agentd::agent
