#include "agent/task_manager.h"

#include <utility>  // before Asio (Boost 1.74); its own block keeps it first

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <random>

#include "observability/log.h"

namespace agentd::agent {

std::string effectiveAgent(const config::Config& cfg, const std::string& requested) {
  if (!requested.empty()) return requested;
  if (cfg.agents.count("default")) return "default";
  if (cfg.agents.size() == 1) return cfg.agents.begin()->first;
  return "";
}

namespace {

std::string newTaskId(uint64_t n) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08llx%08llx", static_cast<unsigned long long>(rng() >> 32),
                static_cast<unsigned long long>((rng() & 0xffff0000ULL) | (n & 0xffff)));
  return buf;
}

int agentConcurrency(const Task& t) {
  const config::Config& cfg = *t.snapshot()->config;
  auto it = cfg.agents.find(effectiveAgent(cfg, t.spec().agent));
  return it == cfg.agents.end() ? 1 : it->second.concurrency;
}

}  // namespace

TaskManager::TaskManager(boost::asio::io_context& io, RunEnv env, Limits limits)
    : io_(io), env_(env), limits_(limits) {}

TaskManager::~TaskManager() = default;

Result<std::shared_ptr<Task>> TaskManager::submit(TaskSpec spec,
                                                  std::shared_ptr<const Snapshot> snapshot) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!open_) return Status::failedPrecondition("agentd is shutting down");
  auto task = std::make_shared<Task>(newTaskId(++counter_), std::move(spec), std::move(snapshot));
  queue_.push_back(task);
  pump();
  // Whatever could not start waits, but only up to max_queued (whichever limit binds).
  if (!queue_.empty() && queue_.back() == task &&
      static_cast<int>(queue_.size()) > limits_.max_queued) {
    queue_.pop_back();
    return Status::unavailable("task queue is full (" + std::to_string(limits_.max_queued) +
                               " waiting)");
  }
  tasks_[task->id()] = task;
  order_.push_back(task);
  return task;
}

void TaskManager::prune() {
  // The oldest finished tasks sit near the front: this stops after the few it forgets, so a
  // burst of submissions costs O(1) each, not a walk over every retained task.
  for (auto it = order_.begin(); finished_.size() > limits_.keep_finished && it != order_.end();) {
    if (finished_.erase(it->get()) > 0) {
      tasks_.erase((*it)->id());
      it = order_.erase(it);
    } else {
      ++it;
    }
  }
}

void TaskManager::pump() {
  for (auto it = queue_.begin(); it != queue_.end() && running_ < limits_.max_concurrent;) {
    std::shared_ptr<Task> t = *it;
    if (t->stopRequested()) {
      it = queue_.erase(it);
      TaskState state = t->interrupted() ? TaskState::kInterrupted : TaskState::kCancelled;
      std::string why = t->interrupted() ? "interrupted by shutdown" : "stopped before it started";
      // The same closing events a running task sends, so stream listeners end too.
      t->emit(EventType::kError, 0,
              "{\"error\":\"" + why + "\",\"state\":\"" + taskStateName(state) + "\",\"steps\":0}");
      t->emit(EventType::kEnd, 0, std::string("{\"state\":\"") + taskStateName(state) + "\"}");
      t->finish(state, "", why);
      boost::asio::post(io_, [this, t] { done(t); });
      continue;
    }
    std::string agent = effectiveAgent(*t->snapshot()->config, t->spec().agent);
    if (running_by_agent_[agent] >= agentConcurrency(*t)) {
      ++it;
      continue;
    }
    it = queue_.erase(it);
    ++running_;
    ++running_by_agent_[agent];
    t->setState(TaskState::kRunning);
    for (const auto& fn : start_listeners_) fn(*t);
    startTask(io_, t, env_, [this, t, agent] {
      {
        std::lock_guard<std::mutex> lock(mu_);
        --running_;
        --running_by_agent_[agent];
        pump();
      }
      done(t);
    });
  }
}

void TaskManager::done(const std::shared_ptr<Task>& task) {
  std::vector<std::function<void(const Task&)>> fns;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tasks_.find(task->id());
    if (it != tasks_.end() && it->second == task) {
      finished_.insert(task.get());
      prune();
    }
    fns = finish_listeners_;
    idle_cv_.notify_all();
  }
  for (const auto& fn : fns) fn(*task);
}

std::shared_ptr<Task> TaskManager::get(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Task>> TaskManager::list() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {order_.begin(), order_.end()};
}

Status TaskManager::stop(const std::string& id) {
  std::shared_ptr<Task> t = get(id);
  if (t == nullptr) return Status::notFound("no task " + id);
  if (isFinal(t->state())) {
    return Status::failedPrecondition("task " + id + " already ended (" +
                                      taskStateName(t->state()) + ")");
  }
  t->requestStop(false);
  std::lock_guard<std::mutex> lock(mu_);
  pump();  // a queued task ends right away
  return Status::ok();
}

void TaskManager::closeIntake() {
  std::lock_guard<std::mutex> lock(mu_);
  open_ = false;
}

void TaskManager::interruptAll() {
  std::vector<std::shared_ptr<Task>> all = list();
  for (const auto& t : all) {
    if (!isFinal(t->state())) t->requestStop(true);
  }
  std::lock_guard<std::mutex> lock(mu_);
  pump();
}

bool TaskManager::waitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [&] {
    if (running_ > 0) return false;
    for (const auto& t : queue_) {
      if (!isFinal(t->state())) return false;
    }
    return true;
  });
}

size_t TaskManager::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<size_t>(running_);
}

size_t TaskManager::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void TaskManager::setLimits(Limits limits) {
  std::lock_guard<std::mutex> lock(mu_);
  limits_ = limits;
  pump();
  prune();
}

void TaskManager::addFinishListener(std::function<void(const Task&)> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  finish_listeners_.push_back(std::move(fn));
}

}  // namespace agentd::agent

namespace agentd::agent {

void TaskManager::addStartListener(std::function<void(const Task&)> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  start_listeners_.push_back(std::move(fn));
}

}  // namespace agentd::agent
