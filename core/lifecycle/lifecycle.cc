#include "lifecycle/lifecycle.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <array>
#include <map>

#include "observability/log.h"
#include "observability/metrics.h"

namespace agentd {
namespace {

constexpr std::array<const char*, kAgentStateCount> kStateNames = {
    "initializing", "ready", "running", "paused", "reloading", "draining", "stopped", "failed",
};

// The transition table, the only place the legal transitions are written down.
// Row: from; column: to, both in AgentState order. Stopped is terminal. From Reloading,
// apply() further allows only Draining or the state Reloading was entered from.
// clang-format off
constexpr bool kLegal[kAgentStateCount][kAgentStateCount] = {
    //                 init   ready  run    pause  reload drain  stop   fail
    /* initializing */ {false, true , false, false, false, true , false, true },
    /* ready        */ {false, false, true , true , true , true , false, false},
    /* running      */ {false, true , false, true , true , true , false, true },
    /* paused       */ {false, true , true , false, true , true , false, false},
    /* reloading    */ {false, true , true , true , false, true , false, false},
    /* draining     */ {false, false, false, false, false, false, true , false},
    /* stopped      */ {false, false, false, false, false, false, false, false},
    /* failed       */ {true , false, false, false, false, true , false, false},
};
// clang-format on

constexpr size_t idx(AgentState s) { return static_cast<size_t>(s); }

struct Families {
  prometheus::Family<prometheus::Gauge>& state;
  prometheus::Family<prometheus::Counter>& transitions;
};

const Families& families() {
  static const Families f{
      prometheus::BuildGauge()
          .Name("agentd_agent_state")
          .Help("Current lifecycle state of each agent: 1 for the current state, 0 otherwise.")
          .Register(metrics::registry()),
      prometheus::BuildCounter()
          .Name("agentd_agent_state_transitions_total")
          .Help("Applied agent lifecycle state transitions.")
          .Register(metrics::registry()),
  };
  return f;
}

// Lifecycles sharing an agent name share its series; the last one to go removes them.
// Leaked so that a lifecycle destroyed during static destruction still finds them.
std::mutex& seriesMu() {
  static auto* mu = new std::mutex;
  return *mu;
}
std::map<std::string, int, std::less<>>& seriesRefs() {
  static auto* refs = new std::map<std::string, int, std::less<>>;
  return *refs;
}

}  // namespace

struct AgentLifecycle::Metrics {
  std::array<prometheus::Gauge*, kAgentStateCount> state{};
  // Only legal pairs have a series; the rest stay null.
  std::array<std::array<prometheus::Counter*, kAgentStateCount>, kAgentStateCount> transitions{};
};

const char* stateName(AgentState s) {
  size_t i = idx(s);
  return i < kStateNames.size() ? kStateNames[i] : "unknown";
}

bool parseState(std::string_view name, AgentState* out) {
  for (size_t i = 0; i < kStateNames.size(); ++i) {
    if (name == kStateNames[i]) {
      *out = static_cast<AgentState>(i);
      return true;
    }
  }
  return false;
}

bool isLegalTransition(AgentState from, AgentState to) {
  if (idx(from) >= kAgentStateCount || idx(to) >= kAgentStateCount) return false;
  return kLegal[idx(from)][idx(to)];
}

bool acceptsWork(AgentState s) { return s == AgentState::kReady || s == AgentState::kRunning; }

AgentLifecycle::AgentLifecycle(std::string agent, BackoffPolicy backoff)
    : agent_(std::move(agent)),
      backoff_(backoff),
      listeners_(std::make_shared<const std::vector<Listener>>()),
      metrics_(std::make_unique<Metrics>()) {
  const Families& f = families();
  std::lock_guard<std::mutex> series_lock(seriesMu());
  int& refs = seriesRefs()[agent_];
  if (++refs > 1) {
    log::warn("agent lifecycle name already in use; metric series are shared", {{"agent", agent_}});
  }
  for (size_t s = 0; s < kAgentStateCount; ++s) {
    metrics_->state[s] = &f.state.Add({{"agent", agent_}, {"state", kStateNames[s]}});
    metrics_->state[s]->Set(s == idx(state_) ? 1 : 0);
    for (size_t t = 0; t < kAgentStateCount; ++t) {
      if (!kLegal[s][t]) continue;
      metrics_->transitions[s][t] =
          &f.transitions.Add({{"agent", agent_}, {"from", kStateNames[s]}, {"to", kStateNames[t]}});
    }
  }
}

AgentLifecycle::~AgentLifecycle() {
  const Families& f = families();
  std::lock_guard<std::mutex> series_lock(seriesMu());
  auto it = seriesRefs().find(agent_);
  if (it == seriesRefs().end() || --it->second > 0) return;
  seriesRefs().erase(it);
  for (size_t s = 0; s < kAgentStateCount; ++s) {
    f.state.Remove(metrics_->state[s]);
    for (prometheus::Counter* c : metrics_->transitions[s]) {
      if (c != nullptr) f.transitions.Remove(c);
    }
  }
}

AgentState AgentLifecycle::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

std::string AgentLifecycle::lastError() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

uint32_t AgentLifecycle::consecutiveFailures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

std::chrono::milliseconds AgentLifecycle::recoveryDelay() const {
  uint32_t failures = consecutiveFailures();
  const int64_t base = backoff_.base.count();
  const int64_t max = backoff_.max.count();
  if (base <= 0) return std::chrono::milliseconds(0);
  const uint32_t shift = failures == 0 ? 0 : failures - 1;
  // base * 2^shift <= max  <=>  base <= floor(max / 2^shift), computed without overflow.
  if (shift >= 62 || base > (max >> shift)) return backoff_.max;
  return std::chrono::milliseconds(base << shift);
}

Status AgentLifecycle::transition(AgentState to, std::string_view reason) {
  return apply(to, reason);
}

Status AgentLifecycle::fail(std::string_view reason) { return apply(AgentState::kFailed, reason); }

Status AgentLifecycle::recover() { return apply(AgentState::kInitializing, "recovery"); }

void AgentLifecycle::addListener(Listener l) {
  std::lock_guard<std::mutex> lock(mu_);
  auto next = std::make_shared<std::vector<Listener>>(*listeners_);
  next->push_back(std::move(l));
  listeners_ = std::move(next);
}

Status AgentLifecycle::apply(AgentState to, std::string_view reason) {
  AgentState from;
  std::shared_ptr<const std::vector<Listener>> listeners;
  {
    std::lock_guard<std::mutex> lock(mu_);
    from = state_;
    if (!isLegalTransition(from, to)) {
      return Status::failedPrecondition("agent '" + agent_ + "': illegal state transition " +
                                        stateName(from) + " -> " + stateName(to));
    }
    if (from == AgentState::kReloading && to != AgentState::kDraining && to != before_reload_) {
      return Status::failedPrecondition(
          "agent '" + agent_ + "': illegal state transition " + stateName(from) + " -> " +
          stateName(to) + " (reloading returns only to " + stateName(before_reload_) + ")");
    }
    if (to == AgentState::kReloading) before_reload_ = from;
    if (to == AgentState::kFailed) {
      ++failures_;
      last_error_ = std::string(reason);
    } else if (to == AgentState::kReady) {
      failures_ = 0;
    }
    state_ = to;
    metrics_->state[idx(from)]->Set(0);
    metrics_->state[idx(to)]->Set(1);
    metrics_->transitions[idx(from)][idx(to)]->Increment();
    // Logged under the lock so this agent's lines appear in transition order.
    log::info(
        "agent state changed",
        {{"agent", agent_}, {"from", stateName(from)}, {"to", stateName(to)}, {"reason", reason}});
    listeners = listeners_;
  }
  for (const Listener& l : *listeners) l(from, to);
  return Status::ok();
}

}  // namespace agentd
