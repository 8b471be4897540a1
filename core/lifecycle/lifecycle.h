// The agent lifecycle: eight states, one transition table, exponential recovery backoff.
// Every transition is logged and counted (agentd_agent_state{agent,state},
// agentd_agent_state_transitions_total{agent,from,to}); an illegal one is an error and changes
// nothing. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace agentd {

enum class AgentState : uint8_t {
  kInitializing = 0,
  kReady,
  kRunning,
  kPaused,
  kReloading,
  kDraining,
  kStopped,
  kFailed,
};
inline constexpr int kAgentStateCount = 8;

// Returns the lowercase name ("initializing", "ready", ...).
const char* stateName(AgentState s);
// Parses a name produced by stateName().
bool parseState(std::string_view name, AgentState* out);
// Returns true iff the table allows from -> to. Reloading -> X is allowed here for every X that
// can precede Reloading; AgentLifecycle additionally requires X to be the state before reloading.
bool isLegalTransition(AgentState from, AgentState to);
// Returns true for states in which the agent accepts new work (Ready, Running).
bool acceptsWork(AgentState s);

// Exponential backoff for Failed -> Initializing: base * 2^(failures-1), capped at max.
struct BackoffPolicy {
  std::chrono::milliseconds base{500};
  std::chrono::milliseconds max{30000};
};

class AgentLifecycle {
 public:
  // Called after every applied transition, outside the lifecycle's lock.
  using Listener = std::function<void(AgentState from, AgentState to)>;

  explicit AgentLifecycle(std::string agent, BackoffPolicy backoff = {});
  // Removes this agent's metric series (once no other live lifecycle has the same agent name).
  ~AgentLifecycle();
  AgentLifecycle(const AgentLifecycle&) = delete;
  AgentLifecycle& operator=(const AgentLifecycle&) = delete;

  const std::string& agent() const { return agent_; }
  AgentState state() const;
  // The last failure reason (empty when none).
  std::string lastError() const;

  // Applies from -> to if legal; else FailedPrecondition naming the agent and both states, and
  // nothing changes. Reloading returns only to the state it was entered from. Entering Failed
  // this way is the same as fail(reason).
  Status transition(AgentState to, std::string_view reason = {});
  // Enters Failed (from Initializing or Running), remembering reason; counts a consecutive
  // failure. Reaching Ready resets the count.
  Status fail(std::string_view reason);
  // Failed -> Initializing.
  Status recover();
  // Delay before the next automatic recovery: base * 2^(failures-1) capped at max (base when
  // there was no failure).
  std::chrono::milliseconds recoveryDelay() const;
  uint32_t consecutiveFailures() const;

  // Listeners are never removed; one must stay callable for the lifecycle's lifetime.
  void addListener(Listener l);

 private:
  // Applies the transition under mu_; entering Failed counts a failure, Ready resets the count.
  Status apply(AgentState to, std::string_view reason);

  const std::string agent_;
  const BackoffPolicy backoff_;
  mutable std::mutex mu_;
  AgentState state_ = AgentState::kInitializing;
  AgentState before_reload_ = AgentState::kReady;
  uint32_t failures_ = 0;
  std::string last_error_;
  // Copy-on-write so a transition snapshots the listeners without copying them.
  std::shared_ptr<const std::vector<Listener>> listeners_;
  struct Metrics;
  std::unique_ptr<Metrics> metrics_;
};

}  // namespace agentd
