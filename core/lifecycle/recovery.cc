#include "lifecycle/recovery.h"

// <utility> before Asio: boost/asio/awaitable.hpp in Boost 1.74 relies on it.
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>

#include "observability/log.h"

namespace agentd {

namespace asio = boost::asio;

// Shared with the handlers in flight, so it outlives the supervisor until they have run or the
// io_context has destroyed them. The timer is touched only on the strand.
struct RecoverySupervisor::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, AgentLifecycle& lc, InitFn fn)
      : strand(asio::make_strand(io)), timer(strand), lifecycle(lc), init(std::move(fn)) {}

  // Posts schedule() to the strand; callable from any thread.
  void requestSchedule() {
    if (stopped.load()) return;
    asio::post(strand, [self = shared_from_this()] { self->schedule(); });
  }

  void schedule() {
    if (stopped.load() || lifecycle.state() != AgentState::kFailed) return;
    auto delay = lifecycle.recoveryDelay();
    log::info("agent recovery scheduled",
              {{"agent", lifecycle.agent()},
               {"delay_ms", static_cast<int64_t>(delay.count())},
               {"consecutive_failures", static_cast<uint64_t>(lifecycle.consecutiveFailures())}});
    // Re-arming cancels an earlier wait; its handler then sees operation_aborted.
    timer.expires_after(delay);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->attempt();
    });
  }

  void attempt() {
    if (stopped.load()) return;
    Status st = lifecycle.recover();
    if (!st.isOk()) {
      // Someone else moved the agent on (e.g. Draining); nothing to recover.
      log::info("agent recovery skipped", {{"agent", lifecycle.agent()}, {"reason", st.message()}});
      return;
    }
    Status init_st = init ? init() : Status::ok();
    if (init_st.isOk()) {
      st = lifecycle.transition(AgentState::kReady, "recovered");
    } else {
      // The lifecycle's listener schedules the next attempt.
      st = lifecycle.fail(init_st.toString());
    }
    if (!st.isOk()) {
      log::warn("agent recovery outcome not applied",
                {{"agent", lifecycle.agent()}, {"reason", st.message()}});
    }
  }

  void stop() {
    if (stopped.exchange(true)) return;
    asio::post(strand, [self = shared_from_this()] { self->timer.cancel(); });
  }

  asio::strand<asio::io_context::executor_type> strand;
  asio::steady_timer timer;
  AgentLifecycle& lifecycle;
  const InitFn init;
  std::atomic<bool> stopped{false};
};

RecoverySupervisor::RecoverySupervisor(asio::io_context& io, AgentLifecycle& lifecycle, InitFn init)
    : impl_(std::make_shared<Impl>(io, lifecycle, std::move(init))) {
  // A weak reference: the lifecycle may outlive the supervisor and its io_context.
  lifecycle.addListener([weak = std::weak_ptr<Impl>(impl_)](AgentState, AgentState to) {
    if (to != AgentState::kFailed) return;
    if (auto impl = weak.lock()) impl->requestSchedule();
  });
  if (lifecycle.state() == AgentState::kFailed) impl_->requestSchedule();
}

RecoverySupervisor::~RecoverySupervisor() { stop(); }

void RecoverySupervisor::stop() { impl_->stop(); }

}  // namespace agentd
