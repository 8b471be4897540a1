// Prometheus metrics: the process-wide registry (the one global the design allows), the
// process_* collector, and the /metrics listener on its own port.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace prometheus {
class Exposer;
}

namespace agentd::metrics {

// Returns the registry every component registers its families in. Thread-safe.
prometheus::Registry& registry();
std::shared_ptr<prometheus::Registry> sharedRegistry();

// Standard process_* metrics read from /proc/self at scrape time.
class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

// Serves /metrics (registry + process collector) and nothing else.
class MetricsServer {
 public:
  // listen: "HOST:PORT"; port 0 picks an ephemeral port.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& listen);
  ~MetricsServer();
  // The bound "HOST:PORT".
  const std::string& address() const { return address_; }
  int port() const { return port_; }

 private:
  MetricsServer() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<ProcessCollector> process_;
  std::string address_;
  int port_ = 0;
};

// Sets agentd_build_info{version,revision,abi} 1. Idempotent.
void registerBuildInfo();

// Default histogram buckets for durations in seconds (1 ms .. 120 s).
const std::vector<double>& durationBuckets();

}  // namespace agentd::metrics
