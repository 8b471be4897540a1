// The request/response model of a chat call, independent of any provider's wire format.
// Plain values: copyable, no behaviour beyond small constructors.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace agentd::llm {

enum class Role { kSystem, kUser, kAssistant, kTool };
const char* roleName(Role role);

// A tool call requested by the assistant. arguments is JSON text (an object; "" means {}).
struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;
  bool operator==(const ToolCall&) const = default;
};

// One message of the conversation. kAssistant may carry tool_calls; kTool is the result of the
// call tool_call_id (content, is_error).
struct Message {
  Role role = Role::kUser;
  std::string content;
  std::vector<ToolCall> tool_calls;
  std::string tool_call_id;
  bool is_error = false;

  static Message system(std::string text);
  static Message user(std::string text);
  static Message assistant(std::string text, std::vector<ToolCall> calls = {});
  static Message toolResult(std::string call_id, std::string content, bool is_error = false);
  bool operator==(const Message&) const = default;
};

// A tool the model may call; parameters is a JSON Schema (JSON text, an object).
struct ToolDefinition {
  std::string name;
  std::string description;
  std::string parameters = R"({"type":"object","properties":{}})";
  bool operator==(const ToolDefinition&) const = default;
};

// One chat request. Sampling fields left empty take the model's configured values.
struct ChatRequest {
  std::vector<Message> messages;
  std::vector<ToolDefinition> tools;
  std::optional<int> max_tokens;
  std::optional<double> temperature;
};

enum class FinishReason { kStop, kLength, kToolCalls, kContentFilter, kOther };
const char* finishReasonName(FinishReason reason);

// Token counts. input_tokens includes cache_read and cache_creation tokens (OpenTelemetry
// GenAI convention), whatever the provider reports.
struct Usage {
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_read_tokens = 0;
  int64_t cache_creation_tokens = 0;
  bool operator==(const Usage&) const = default;
};

struct ChatResponse {
  std::string id;
  std::string content;
  std::vector<ToolCall> tool_calls;
  FinishReason finish_reason = FinishReason::kStop;
  std::string finish_reason_raw;  // as the provider spelled it
  Usage usage;
  std::string model;     // the model that answered, as reported
  std::string provider;  // the provider that answered (differs from the primary on fallback)
  bool cached = false;   // served from the response cache
};

// A piece of streamed output. Tool calls arrive as kToolCallStart (index, id, name) followed by
// kToolCallArguments fragments (index, text); the complete calls are in the final response.
struct StreamDelta {
  enum class Kind { kText, kToolCallStart, kToolCallArguments };
  Kind kind = Kind::kText;
  std::string text;
  int index = 0;
  std::string id;
  std::string name;
};
using StreamCallback = std::function<void(const StreamDelta&)>;

}  // namespace agentd::llm
