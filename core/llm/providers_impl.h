// Constructors of the concrete providers; makeProvider() is the public entry point.
#pragma once

#include <memory>

#include "llm/provider.h"
#include "llm/wire.h"

namespace agentd::llm {

std::unique_ptr<Provider> makeHttpProvider(const ProviderOptions& options, HttpClient& http,
                                           std::unique_ptr<WireCodec> codec);
Result<std::unique_ptr<Provider>> makeScriptedProvider(const ProviderOptions& options,
                                                       HttpClient& http);
Result<std::unique_ptr<Provider>> makeReplayProvider(const ProviderOptions& options,
                                                     HttpClient& http);
// Wraps inner so that each successful attempt is appended to options.record_path.
Result<std::unique_ptr<Provider>> makeRecordingProvider(std::unique_ptr<Provider> inner);

}  // namespace agentd::llm
