// Canonical forms: the request identity used by the response cache and by cassettes, and the
// JSON form of a response stored in cassettes and scripts.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "common/status.h"
#include "llm/options.h"
#include "llm/types.h"

namespace agentd::llm {

// Returns JSON text with object keys sorted and no insignificant whitespace; text that is not
// JSON comes back as a JSON string literal of itself.
std::string canonicalJson(std::string_view text);

// Returns the canonical JSON of what the model is asked: model id, effective max_tokens,
// temperature, top_p, parallel_tool_calls, messages and tools (JSON arguments and schemas in
// canonical form). Streaming and the provider are not part of it.
std::string canonicalRequest(const ChatRequest& request, const ModelOptions& model);
// Returns the lowercase hex SHA-256 of canonicalRequest().
std::string requestHash(const ChatRequest& request, const ModelOptions& model);

// {"id","content","tool_calls":[{"id","name","arguments"}],"finish_reason","model",
//  "usage":{"input_tokens","output_tokens","cache_read_tokens","cache_creation_tokens"}}
std::string responseToJson(const ChatResponse& response);
// Reads the form above; missing fields take defaults, arguments may be an object or a string.
Result<ChatResponse> responseFromJson(const rapidjson::Value& value);

}  // namespace agentd::llm
