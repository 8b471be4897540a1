// Task: one run of an agent on a problem statement. Holds its state, its events (for the event
// log, SSE replay from Last-Event-ID, and live subscribers), its conversation so far, and what
// it needs to be stopped. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/events.h"
#include "agent/snapshot.h"
#include "llm/types.h"
#include "plugin/generation.h"

namespace agentd::agent {

enum class TaskState { kQueued, kRunning, kCompleted, kFailed, kCancelled, kInterrupted };
const char* taskStateName(TaskState s);
bool isFinal(TaskState s);

// What to run, as the CLI or the API gives it.
struct TaskSpec {
  std::string task;                   // the problem statement
  std::string agent;                  // [agents] name; empty: "default", else the only agent
  std::string model;                  // [models] name overriding the agent's
  int max_steps = 0;                  // 0: the agent's
  std::string working_dir;            // absolute; empty: the process's
  bool must_patch = false;            // refuse completion while `git diff` is empty
  std::string patch_path;             // where the final patch goes (must_patch)
  std::string trajectory_file;        // where the trae-shaped trajectory goes; empty: none
  std::vector<llm::Message> history;  // earlier turns (chat), placed before the task
  bool stream = true;  // stream model answers (model_delta events); off when nobody shows them
};

class Task {
 public:
  using Subscriber = std::function<void(const Event&)>;

  Task(std::string id, TaskSpec spec, std::shared_ptr<const Snapshot> snapshot);

  const std::string& id() const { return id_; }
  const TaskSpec& spec() const { return spec_; }
  const std::shared_ptr<const Snapshot>& snapshot() const { return snapshot_; }

  TaskState state() const;
  void setState(TaskState s);
  double startTime() const;  // 0 until it runs
  double endTime() const;    // 0 until it ends
  // Outcome, once final.
  std::string finalResult() const;
  std::string error() const;
  void finish(TaskState s, std::string final_result, std::string error);

  // Appends an event (numbering and timestamping it) and hands it to every subscriber, in
  // order. While events are held, the hand-over waits for releaseEvents().
  const Event emit(EventType type, int step, std::string data);
  // The loop holds events while it turns a model answer into its next request and releases
  // them once that request is on its way, so subscribers (progress lines, the event log, SSE)
  // do their work while the model does. Held events keep their order, numbers and times; a
  // subscriber that joins meanwhile gets them live, not in its backlog. Idempotent.
  void holdEvents();
  void releaseEvents();
  // Events with seq > after (model deltas beyond the retention bound are not kept).
  std::vector<Event> eventsAfter(uint64_t after) const;
  // Subscribes fn to the events after seq `after`. With replay, fn first gets the retained ones
  // that subscribers have already been given, on this thread before subscribe() returns, and
  // no live event reaches it before or among them (emits on other threads wait meanwhile).
  // fn must not call emit(), releaseEvents() or subscribe() of this task. `after` beyond the
  // latest event counts as the latest (nothing later can have been seen). With `ended`, says
  // whether the task's `end` is at or before `after`: then nothing more comes. Returns a token.
  uint64_t subscribe(uint64_t after, Subscriber fn, bool replay = false, bool* ended = nullptr);
  void unsubscribe(uint64_t token);

  // The conversation so far as a JSON array of {role, content, tool_calls?, tool_call_id?}.
  std::string messagesJson() const;
  void setMessages(std::shared_ptr<const std::vector<llm::Message>> messages);

  // Asks the task to stop; cancels the model call and the tools in flight. Idempotent.
  void requestStop(bool interrupted);
  bool stopRequested() const { return stop_.load(); }
  bool interrupted() const { return interrupted_.load(); }
  // The loop registers what a stop must cancel.
  void setCancelHook(std::function<void()> hook);
  std::shared_ptr<plugin::CancelState> toolCancel() const { return tool_cancel_; }

 private:
  const std::string id_;
  const TaskSpec spec_;
  const std::shared_ptr<const Snapshot> snapshot_;
  mutable std::mutex mu_;
  TaskState state_ = TaskState::kQueued;
  double start_ = 0, end_ = 0;
  std::string final_result_, error_;
  uint64_t next_seq_ = 1;
  std::vector<Event> events_;
  size_t deltas_kept_ = 0;
  std::map<uint64_t, Subscriber> subscribers_;
  // What emit() hands events to: rebuilt on (un)subscribe, so an event copies no Subscriber.
  std::shared_ptr<const std::vector<Subscriber>> delivery_ =
      std::make_shared<const std::vector<Subscriber>>();
  uint64_t next_token_ = 1;
  bool held_ = false;
  std::vector<Event> pending_;  // held events, in order
  // The highest seq handed to subscribers: every event but the held ones. Under mu_.
  uint64_t delivered() const { return next_seq_ - 1 - pending_.size(); }
  std::shared_ptr<const std::vector<llm::Message>> messages_;
  std::atomic<bool> stop_{false}, interrupted_{false};
  std::function<void()> cancel_hook_;
  std::shared_ptr<plugin::CancelState> tool_cancel_ = std::make_shared<plugin::CancelState>();
  std::mutex emit_mu_;     // serializes delivery so subscribers see events in order
  void rebuildDelivery();  // under mu_
};

double nowSeconds();

}  // namespace agentd::agent
