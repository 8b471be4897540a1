// The record of a task: an append-only JSON-lines event log written while it runs (so a crash
// loses nothing recorded so far) and, when it ends, a trajectory in trae-agent's JSON shape
// (task, times, provider, model, llm_interactions, agent_steps, success, final_result,
// execution_time; empty lists as null). Thread-safe.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "agent/events.h"
#include "common/status.h"
#include "llm/types.h"

namespace agentd::agent {

struct ToolOutcome {
  std::string call_id;
  std::string name;
  bool success = false;
  std::string result;
  std::string error;
};

class TrajectoryRecorder {
 public:
  // path: the trajectory file; the event log goes next to it (".json" -> ".events.jsonl").
  TrajectoryRecorder(std::string path, std::string task, std::string provider, std::string model,
                     int max_steps);
  ~TrajectoryRecorder();

  // Opens the event log (creating directories). Without it, events are not logged.
  Status open();
  const std::string& eventLogPath() const { return event_log_path_; }
  void onEvent(const Event& e);

  void recordInteraction(const std::vector<llm::Message>& input, const llm::ChatResponse& r,
                         const std::vector<std::string>& tools_available);
  void recordStep(int step, const std::string& state, const std::vector<llm::Message>& input,
                  const llm::ChatResponse* response, const std::vector<ToolOutcome>& results,
                  const std::string& error);
  // Writes the trajectory (atomically: a temporary file renamed into place).
  Status finalize(bool success, const std::string& final_result, double execution_time);

 private:
  std::string path_, event_log_path_;
  std::string task_, provider_, model_;
  int max_steps_;
  std::string start_time_;
  std::mutex mu_;
  std::FILE* log_ = nullptr;
  std::vector<std::string> interactions_;  // serialized JSON objects
  std::vector<std::string> steps_;
};

// ISO-8601 local-free UTC time with microseconds, e.g. 2026-11-22T10:31:00.123456.
std::string isoNow();

}  // namespace agentd::agent
