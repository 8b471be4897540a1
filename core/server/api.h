// The HTTP API of `agentd serve`: the task API (/api), chat (/v1), probes (/livez, /readyz,
// /healthz, never behind auth) and admin (/admin/reload), with authentication, rate limits,
// CORS, JSON errors and the HTTP metrics. Runs on the daemon's io_context.
#pragma once

#include <memory>
#include <string>

#include "agent/daemon.h"
#include "common/status.h"

namespace boost::asio {
class io_context;
}

namespace agentd::server {

class Api {
 public:
  // Reads [server] from the daemon's configuration at construction (limits, auth, CORS).
  static Result<std::unique_ptr<Api>> create(boost::asio::io_context& io, Daemon& daemon);
  ~Api();

  Status listen(const std::string& address);
  std::string address() const;
  // Shutdown, step 1: stop accepting connections.
  void stopAccepting();
  // Shutdown, last step: end every SSE stream and close idle connections.
  void closeAll();

 private:
  struct Impl;
  explicit Api(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace agentd::server
