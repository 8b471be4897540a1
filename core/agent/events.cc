#include "agent/events.h"

#include <cstdio>

#include "common/json.h"

namespace agentd::agent {

const char* eventName(EventType t) {
  switch (t) {
    case EventType::kTaskStart:
      return "task_start";
    case EventType::kModelRequest:
      return "model_request";
    case EventType::kModelDelta:
      return "model_delta";
    case EventType::kModelResponse:
      return "model_response";
    case EventType::kToolCall:
      return "tool_call";
    case EventType::kToolProgress:
      return "tool_progress";
    case EventType::kToolResult:
      return "tool_result";
    case EventType::kStepEnd:
      return "step_end";
    case EventType::kComplete:
      return "complete";
    case EventType::kError:
      return "error";
    case EventType::kEnd:
      return "end";
  }
  return "unknown";
}

std::string Event::toJson() const {
  char time_buf[32];
  std::snprintf(time_buf, sizeof time_buf, "%.6f", time);
  std::string out = "{\"seq\":" + std::to_string(seq) + ",\"type\":\"" + eventName(type) +
                    "\",\"task_id\":" + json::quote(task_id) + ",\"step\":" + std::to_string(step) +
                    ",\"time\":" + time_buf + ",\"data\":";
  out += data.empty() ? "{}" : data;
  out += "}";
  return out;
}

}  // namespace agentd::agent
