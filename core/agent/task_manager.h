// TaskManager: accepts tasks, runs them on an io_context within bounded concurrency (globally and
// per agent) behind a bounded FIFO queue, and keeps them (the last finished ones too) for
// lookup, listing, streaming and stopping. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "agent/loop.h"
#include "agent/task.h"

namespace boost::asio {
class io_context;
}

namespace agentd::agent {

// The agent a spec runs on: its own, else "default", else the only one (empty if ambiguous).
std::string effectiveAgent(const config::Config& cfg, const std::string& requested);

class TaskManager {
 public:
  struct Limits {
    int max_concurrent = 64;  // tasks running at once, over all agents
    int max_queued = 256;     // tasks waiting for a slot
    size_t keep_finished = 1000;
  };
  TaskManager(boost::asio::io_context& io, RunEnv env, Limits limits);
  ~TaskManager();

  // Queues a task that will run on snapshot. Unavailable("queue full") when it cannot wait;
  // FailedPrecondition when intake is closed (shutdown).
  Result<std::shared_ptr<Task>> submit(TaskSpec spec, std::shared_ptr<const Snapshot> snapshot);
  std::shared_ptr<Task> get(const std::string& id) const;
  // All known tasks, oldest first.
  std::vector<std::shared_ptr<Task>> list() const;
  // Stops a task: a queued one is cancelled at once, a running one is asked to stop.
  // NotFound / FailedPrecondition (already finished).
  Status stop(const std::string& id);
  // Refuses new tasks from now on.
  void closeIntake();
  // Asks every queued and running task to stop, marking them interrupted.
  void interruptAll();
  // Waits until no task is queued or running, at most timeout; true if drained.
  bool waitIdle(std::chrono::milliseconds timeout);
  size_t running() const;
  size_t queued() const;
  void setLimits(Limits limits);
  // Adds a function called on the io thread whenever a task reaches a final state.
  void addFinishListener(std::function<void(const Task&)> fn);
  // Adds a function called (with the manager's lock held: keep it short) when a queued task
  // starts running.
  void addStartListener(std::function<void(const Task&)> fn);

 private:
  void pump();  // starts queued tasks while slots are free; REQUIRES: mu_ held
  void done(const std::shared_ptr<Task>& task);
  // Forgets the oldest finished tasks beyond keep_finished; REQUIRES: mu_ held.
  void prune();

  boost::asio::io_context& io_;
  const RunEnv env_;
  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  Limits limits_;
  bool open_ = true;
  std::map<std::string, std::shared_ptr<Task>> tasks_;
  std::deque<std::shared_ptr<Task>> order_;   // every task by submission, for list() and pruning
  std::unordered_set<const Task*> finished_;  // tasks in order_ that done() has seen
  std::deque<std::shared_ptr<Task>> queue_;
  std::map<std::string, int> running_by_agent_;
  int running_ = 0;
  uint64_t counter_ = 0;
  std::vector<std::function<void(const Task&)>> finish_listeners_;
  std::vector<std::function<void(const Task&)>> start_listeners_;
};

}  // namespace agentd::agent
