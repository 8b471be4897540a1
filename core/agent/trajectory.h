// The record of a task: an append-only JSON-lines event log written while it runs and, when it
// ends, a trajectory in trae-agent's JSON shape (task, times, provider, model, llm_interactions,
// agent_steps, success, final_result, execution_time; empty lists as null). Thread-safe.
//
// Events are buffered and reach the file at flush(), which the agent loop calls whenever the task
// waits (model call, tool calls) and when it ends: a crash loses at most the events of the
// moment it crashed in, and a step costs one write instead of one per event. Interactions and
// steps keep how many conversation messages they saw, not a copy; finalize() serializes them
// from the final conversation, of which every earlier one is a prefix.
#pragma once

#include <cstdio>
#include <memory>
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

// Where the event log of the trajectory file `path` goes: ".json" -> ".events.jsonl".
std::string eventLogPathFor(const std::string& path);

class TrajectoryRecorder {
 public:
  // path: the trajectory file; the event log goes next to it (".json" -> ".events.jsonl").
  // tools_available: the tool names every interaction lists.
  TrajectoryRecorder(std::string path, std::string task, std::string provider, std::string model,
                     int max_steps, std::vector<std::string> tools_available);
  ~TrajectoryRecorder();

  // Opens the event log (creating directories). Without it, events are not logged.
  Status open();
  const std::string& eventLogPath() const { return event_log_path_; }
  void onEvent(const Event& e);
  // Hands the buffered events to the kernel.
  void flush();

  // input_count: how many messages of the conversation the model was sent. The response is
  // shared, not copied; the step's record shares it too.
  void recordInteraction(size_t input_count, std::shared_ptr<const llm::ChatResponse> response);
  // response: the step's model response (the one given to recordInteraction), or null.
  void recordStep(int step, const std::string& state, size_t input_count,
                  std::shared_ptr<const llm::ChatResponse> response,
                  std::vector<ToolOutcome> results, const std::string& error);
  // Flushes the event log and writes the trajectory (atomically: a temporary file renamed into
  // place). REQUIRES: conversation extends every conversation recorded so far.
  Status finalize(bool success, const std::string& final_result, double execution_time,
                  const std::vector<llm::Message>& conversation);

 private:
  std::string path_, event_log_path_;
  std::string task_, provider_, model_;
  int max_steps_;
  std::string start_time_;
  std::mutex mu_;
  std::FILE* log_ = nullptr;
  struct Interaction {
    std::string timestamp;
    size_t input_count = 0;
    std::shared_ptr<const llm::ChatResponse> response;  // never null
  };
  struct Step {
    int step = 0;
    std::string timestamp;
    std::string state;
    size_t input_count = 0;
    std::shared_ptr<const llm::ChatResponse> response;  // shared with its interaction
    std::vector<ToolOutcome> results;
    std::string error;
  };
  std::vector<Interaction> interactions_;
  std::vector<Step> steps_;
  std::vector<std::string> tools_available_;
};

// ISO-8601 local-free UTC time with microseconds, e.g. 2026-11-22T10:31:00.123456.
std::string isoNow();

}  // namespace agentd::agent
