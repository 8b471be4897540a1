// Typed events of a running task, in the order they happen. Every event has a per-task sequence
// number (the SSE event id), a time, the step it belongs to, and a JSON payload; the same JSON
// line goes to the event log, the SSE stream and the CLI.
#pragma once

#include <cstdint>
#include <string>

namespace agentd::agent {

enum class EventType {
  kTaskStart,
  kModelRequest,
  kModelDelta,
  kModelResponse,
  kToolCall,
  kToolProgress,
  kToolResult,
  kStepEnd,
  kComplete,
  kError,
  kEnd,
};
// "task_start", "model_request", ... (the SSE event name).
const char* eventName(EventType t);

struct Event {
  uint64_t seq = 0;  // 1-based, per task
  EventType type = EventType::kTaskStart;
  int step = 0;
  double time = 0;  // seconds since the epoch
  std::string task_id;
  std::string data;  // a JSON object with the type-specific fields
  // Set on a delivered event when another one follows at once (Task::releaseEvents hands over
  // a batch): a subscriber that writes somewhere may flush at the last one. Not serialized.
  bool more = false;

  // {"seq":..,"type":..,"task_id":..,"step":..,"time":..,"data":{...}}
  std::string toJson() const;
};

}  // namespace agentd::agent
