#include "agent/task.h"

#include <algorithm>
#include <chrono>

#include "common/json.h"

namespace agentd::agent {

namespace {
// Streamed model deltas kept for replay per task; beyond this they are delivered live only.
constexpr size_t kMaxDeltasKept = 20000;
}  // namespace

double nowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const char* taskStateName(TaskState s) {
  switch (s) {
    case TaskState::kQueued:
      return "queued";
    case TaskState::kRunning:
      return "running";
    case TaskState::kCompleted:
      return "completed";
    case TaskState::kFailed:
      return "failed";
    case TaskState::kCancelled:
      return "cancelled";
    case TaskState::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

bool isFinal(TaskState s) { return s != TaskState::kQueued && s != TaskState::kRunning; }

Task::Task(std::string id, TaskSpec spec, std::shared_ptr<const Snapshot> snapshot)
    : id_(std::move(id)), spec_(std::move(spec)), snapshot_(std::move(snapshot)) {}

TaskState Task::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

void Task::setState(TaskState s) {
  std::lock_guard<std::mutex> lock(mu_);
  state_ = s;
  if (s == TaskState::kRunning && start_ == 0) start_ = nowSeconds();
}

double Task::startTime() const {
  std::lock_guard<std::mutex> lock(mu_);
  return start_;
}

double Task::endTime() const {
  std::lock_guard<std::mutex> lock(mu_);
  return end_;
}

std::string Task::finalResult() const {
  std::lock_guard<std::mutex> lock(mu_);
  return final_result_;
}

std::string Task::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

void Task::finish(TaskState s, std::string final_result, std::string error) {
  std::lock_guard<std::mutex> lock(mu_);
  state_ = s;
  end_ = nowSeconds();
  if (start_ == 0) start_ = end_;
  final_result_ = std::move(final_result);
  error_ = std::move(error);
}

const Event Task::emit(EventType type, int step, std::string data) {
  std::lock_guard<std::mutex> order(emit_mu_);
  Event e;
  std::shared_ptr<const std::vector<Subscriber>> subs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    e.seq = next_seq_++;
    e.type = type;
    e.step = step;
    e.time = nowSeconds();
    e.task_id = id_;
    e.data = std::move(data);
    bool keep = type != EventType::kModelDelta || deltas_kept_++ < kMaxDeltasKept;
    if (keep) events_.push_back(e);
    if (held_) {
      pending_.push_back(e);
      return e;
    }
    subs = delivery_;
  }
  for (const auto& fn : *subs) fn(e);
  return e;
}

void Task::holdEvents() {
  std::lock_guard<std::mutex> lock(mu_);
  held_ = true;
}

void Task::releaseEvents() {
  std::lock_guard<std::mutex> order(emit_mu_);
  std::vector<Event> pending;
  std::shared_ptr<const std::vector<Subscriber>> subs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = false;
    if (pending_.empty()) return;
    pending.swap(pending_);
    subs = delivery_;
  }
  for (size_t i = 0; i < pending.size(); ++i) {
    pending[i].more = i + 1 < pending.size();
    if (i > 0) {  // one that unsubscribed during the batch gets no more of it
      std::lock_guard<std::mutex> lock(mu_);
      subs = delivery_;
    }
    for (const auto& fn : *subs) fn(pending[i]);
  }
}

std::vector<Event> Task::eventsAfter(uint64_t after) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Event> out;
  for (const auto& e : events_) {
    if (e.seq > after) out.push_back(e);
  }
  return out;
}

uint64_t Task::subscribe(uint64_t after, Subscriber fn, bool replay, bool* ended) {
  // emit_mu_ is held until the replay is done, so no live event reaches fn before or among
  // the replayed ones: they meet without a gap, a repeat or a change of order.
  std::lock_guard<std::mutex> order(emit_mu_);
  std::vector<Event> backlog;
  uint64_t token;
  {
    std::lock_guard<std::mutex> lock(mu_);
    after = std::min(after, next_seq_ - 1);
    if (ended) {  // `end` is the last event and is always kept
      *ended =
          !events_.empty() && events_.back().type == EventType::kEnd && events_.back().seq <= after;
    }
    if (replay) {
      for (const auto& e : events_) {
        if (e.seq > after && e.seq <= delivered()) backlog.push_back(e);
      }
    }
    Subscriber live = fn;
    if (after > delivered()) {
      // Held events up to after were seen elsewhere (eventsAfter): not again, live.
      live = [fn, after](const Event& e) {
        if (e.seq > after) fn(e);
      };
    }
    token = next_token_++;
    subscribers_[token] = std::move(live);
    rebuildDelivery();
  }
  for (const auto& e : backlog) fn(e);
  return token;
}

void Task::unsubscribe(uint64_t token) {
  std::lock_guard<std::mutex> lock(mu_);
  subscribers_.erase(token);
  rebuildDelivery();
}

void Task::rebuildDelivery() {
  auto subs = std::make_shared<std::vector<Subscriber>>();
  subs->reserve(subscribers_.size());
  for (const auto& [token, fn] : subscribers_) subs->push_back(fn);
  delivery_ = std::move(subs);
}

std::string Task::messagesJson() const {
  std::shared_ptr<const std::vector<llm::Message>> msgs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    msgs = messages_;
  }
  std::string out = "[";
  if (msgs != nullptr) {
    for (size_t i = 0; i < msgs->size(); ++i) {
      const llm::Message& m = (*msgs)[i];
      if (i) out += ",";
      out += "{\"role\":\"" + std::string(llm::roleName(m.role)) +
             "\",\"content\":" + json::quote(m.content);
      if (!m.tool_calls.empty()) {
        out += ",\"tool_calls\":[";
        for (size_t j = 0; j < m.tool_calls.size(); ++j) {
          const auto& c = m.tool_calls[j];
          if (j) out += ",";
          out += "{\"id\":" + json::quote(c.id) + ",\"name\":" + json::quote(c.name) +
                 ",\"arguments\":" + json::quote(c.arguments) + "}";
        }
        out += "]";
      }
      if (m.role == llm::Role::kTool) {
        out += ",\"tool_call_id\":" + json::quote(m.tool_call_id) +
               ",\"is_error\":" + (m.is_error ? "true" : "false");
      }
      out += "}";
    }
  }
  return out + "]";
}

void Task::setMessages(std::shared_ptr<const std::vector<llm::Message>> messages) {
  std::lock_guard<std::mutex> lock(mu_);
  messages_ = std::move(messages);
}

void Task::requestStop(bool interrupted) {
  if (interrupted) interrupted_.store(true);
  if (stop_.exchange(true)) return;
  tool_cancel_->cancel();
  std::function<void()> hook;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hook = cancel_hook_;
  }
  if (hook) hook();
}

void Task::setCancelHook(std::function<void()> hook) {
  bool stop_now;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancel_hook_ = std::move(hook);
    stop_now = stop_.load();
  }
  if (stop_now && cancel_hook_) cancel_hook_();
}

}  // namespace agentd::agent
