#include "observability/metrics.h"

#include <agentd/plugin.h>
#include <dirent.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <sys/resource.h>
#include <unistd.h>

#include <exception>
#include <fstream>
#include <mutex>
#include <sstream>

#include "observability/build_info.h"
#include "observability/log.h"

namespace agentd::metrics {

std::shared_ptr<prometheus::Registry> sharedRegistry() {
  static auto r = std::make_shared<prometheus::Registry>();
  return r;
}

prometheus::Registry& registry() { return *sharedRegistry(); }

const std::vector<double>& durationBuckets() {
  static const std::vector<double> b = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,   1,      2.5,   5,    10,    30,   60,  120};
  return b;
}

void registerBuildInfo() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::string abi = std::to_string(AGENTD_ABI_MAJOR) + "." + std::to_string(AGENTD_ABI_MINOR);
    prometheus::BuildGauge()
        .Name("agentd_build_info")
        .Help("Build information of the running agentd; always 1.")
        .Register(registry())
        .Add({{"version", build::kVersion}, {"revision", build::kRevision}, {"abi", abi}})
        .Set(1);
  });
}

namespace {

prometheus::MetricFamily gaugeFamily(const std::string& name, const std::string& help, double value,
                                     prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

int countOpenFds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
    --n;  // the directory stream's own descriptor
  }
  return n;
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the parenthesised command name; see proc(5).
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return out;
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> f;
  for (std::string s; fields >> s;) f.push_back(s);
  // f[0] is field 3 (state); field N is f[N-3].
  if (f.size() < 22) return out;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  double utime = std::stod(f[14 - 3]) / ticks;
  double stime = std::stod(f[15 - 3]) / ticks;
  double threads = std::stod(f[20 - 3]);
  double starttime = std::stod(f[22 - 3]) / ticks;
  double vsize = std::stod(f[23 - 3]);
  double rss = std::stod(f[24 - 3]) * page;

  double boot = 0;
  std::ifstream st("/proc/stat");
  for (std::string line; std::getline(st, line);) {
    if (line.rfind("btime ", 0) == 0) {
      boot = std::stod(line.substr(6));
      break;
    }
  }
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);

  out.push_back(gaugeFamily("process_cpu_seconds_total",
                            "Total user and system CPU time spent in seconds.", utime + stime,
                            MetricType::Counter));
  out.push_back(gaugeFamily("process_resident_memory_bytes", "Resident memory size in bytes.", rss,
                            MetricType::Gauge));
  out.push_back(gaugeFamily("process_virtual_memory_bytes", "Virtual memory size in bytes.", vsize,
                            MetricType::Gauge));
  out.push_back(gaugeFamily("process_open_fds", "Number of open file descriptors.", countOpenFds(),
                            MetricType::Gauge));
  out.push_back(gaugeFamily("process_max_fds", "Maximum number of open file descriptors.",
                            static_cast<double>(lim.rlim_cur), MetricType::Gauge));
  out.push_back(gaugeFamily("process_start_time_seconds",
                            "Start time of the process since unix epoch in seconds.",
                            boot + starttime, MetricType::Gauge));
  out.push_back(gaugeFamily("process_threads", "Number of OS threads in the process.", threads,
                            MetricType::Gauge));
  return out;
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& listen) {
  std::unique_ptr<MetricsServer> s(new MetricsServer());
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    return Status::invalidArgument("metrics listen address must be HOST:PORT, got '" + listen +
                                   "'");
  }
  std::string host = listen.substr(0, colon);
  try {
    // civetweb options: one listener, no document root, so only registered URIs answer.
    s->exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", listen, "num_threads", "2"});
  } catch (const std::exception& e) {
    return Status::unavailable("cannot listen on " + listen + " for metrics: " + e.what());
  }
  auto ports = s->exposer_->GetListeningPorts();
  if (ports.empty()) return Status::unavailable("metrics listener on " + listen + " has no port");
  s->port_ = ports.front();
  s->address_ = host + ":" + std::to_string(s->port_);
  s->process_ = std::make_shared<ProcessCollector>();
  s->exposer_->RegisterCollectable(sharedRegistry());
  s->exposer_->RegisterCollectable(s->process_);
  registerBuildInfo();
  log::info("metrics listening", {{"address", s->address_}});
  return s;
}

MetricsServer::~MetricsServer() = default;

}  // namespace agentd::metrics
