#include "plugin/plugin_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <map>
#include <mutex>

#include "observability/log.h"
#include "observability/metrics.h"

namespace agentd::plugin {
namespace {

struct Def {
  PluginMetricType type;
  std::string name;
  std::vector<std::string> labels;
  prometheus::Family<prometheus::Counter>* counter = nullptr;
  prometheus::Family<prometheus::Gauge>* gauge = nullptr;
  prometheus::Family<prometheus::Histogram>* histogram = nullptr;
};

struct Registry {
  std::mutex mu;
  std::vector<Def> defs;  // handle = index + 1
  std::map<std::string, uint32_t> by_name;
};

Registry& reg() {
  static Registry r;
  return r;
}

// Prefixes (after "agentd_") that belong to the host.
constexpr const char* kReserved[] = {"agent_", "build_", "config_", "plugin",  "http_",
                                     "task",   "sse_",   "llm_",    "gen_ai_", "process_"};

bool validName(std::string_view n) {
  if (n.empty() || n.size() > 100) return false;
  if (!((n[0] >= 'a' && n[0] <= 'z') || n[0] == '_')) return false;
  for (char c : n) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

Result<uint32_t> definePluginMetric(PluginMetricType type, std::string_view name,
                                    std::string_view help,
                                    const std::vector<std::string>& label_names) {
  if (!validName(name)) {
    return Status::invalidArgument("metric name must match [a-z_][a-z0-9_]*: " + std::string(name));
  }
  for (const char* r : kReserved) {
    if (name.rfind(r, 0) == 0) {
      return Status::invalidArgument("metric name prefix is reserved by the host: " +
                                     std::string(name));
    }
  }
  bool is_total = name.size() > 6 && name.substr(name.size() - 6) == "_total";
  if ((type == PluginMetricType::kCounter) != is_total) {
    return Status::invalidArgument("counters, and only counters, end in _total: " +
                                   std::string(name));
  }
  if (label_names.size() > 8) return Status::invalidArgument("at most 8 labels");
  for (const auto& l : label_names) {
    if (!validName(l) || l.rfind("__", 0) == 0 || l == "le") {
      return Status::invalidArgument("invalid label name: " + l);
    }
  }
  std::string full = "agentd_" + std::string(name);
  Registry& r = reg();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.by_name.find(full);
  if (it != r.by_name.end()) {
    const Def& d = r.defs[it->second - 1];
    if (d.type != type || d.labels != label_names) {
      return Status::alreadyExists("metric " + full +
                                   " already defined with another type or labels");
    }
    return it->second;
  }
  Def d{type, full, label_names};
  std::string h = help.empty() ? full : std::string(help);
  try {
    switch (type) {
      case PluginMetricType::kCounter:
        d.counter = &prometheus::BuildCounter().Name(full).Help(h).Register(metrics::registry());
        break;
      case PluginMetricType::kGauge:
        d.gauge = &prometheus::BuildGauge().Name(full).Help(h).Register(metrics::registry());
        break;
      case PluginMetricType::kHistogram:
        d.histogram =
            &prometheus::BuildHistogram().Name(full).Help(h).Register(metrics::registry());
        break;
    }
  } catch (const std::exception& e) {
    return Status::invalidArgument("metric " + full + " refused: " + e.what());
  }
  r.defs.push_back(std::move(d));
  uint32_t handle = static_cast<uint32_t>(r.defs.size());
  r.by_name[full] = handle;
  return handle;
}

void recordPluginMetric(uint32_t handle, const std::vector<std::string>& values, double value) {
  Registry& r = reg();
  std::lock_guard<std::mutex> lock(r.mu);
  if (handle == 0 || handle > r.defs.size()) return;
  Def& d = r.defs[handle - 1];
  if (values.size() != d.labels.size()) {
    log::warn("plugin metric label count mismatch", {{"metric", d.name}});
    return;
  }
  prometheus::Labels labels;
  for (size_t i = 0; i < values.size(); ++i) labels[d.labels[i]] = values[i];
  switch (d.type) {
    case PluginMetricType::kCounter:
      if (value >= 0) d.counter->Add(labels).Increment(value);
      break;
    case PluginMetricType::kGauge:
      d.gauge->Add(labels).Set(value);
      break;
    case PluginMetricType::kHistogram:
      d.histogram->Add(labels, metrics::durationBuckets()).Observe(value);
      break;
  }
}

}  // namespace agentd::plugin
