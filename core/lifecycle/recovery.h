// Automatic recovery of a Failed agent: after lifecycle.recoveryDelay() it runs Failed ->
// Initializing -> init() -> Ready, or fail(reason) again (which schedules the next attempt).
#pragma once

#include <functional>
#include <memory>

#include "common/status.h"
#include "lifecycle/lifecycle.h"

namespace boost::asio {
class io_context;
}

namespace agentd {

// Thread-safe; init runs on the io_context. REQUIRES: io and lifecycle outlive this object.
class RecoverySupervisor {
 public:
  using InitFn = std::function<Status()>;

  RecoverySupervisor(boost::asio::io_context& io, AgentLifecycle& lifecycle, InitFn init);
  // Calls stop().
  ~RecoverySupervisor();
  RecoverySupervisor(const RecoverySupervisor&) = delete;
  RecoverySupervisor& operator=(const RecoverySupervisor&) = delete;

  // Cancels a pending attempt and schedules no more. An attempt already running init() still
  // records its outcome. Idempotent.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace agentd
