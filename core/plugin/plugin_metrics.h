// Host-owned metrics that plugins define through the host services table. Names get the
// "agentd_" prefix; prefixes the host itself uses are refused so a plugin can never write to a
// host series. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace agentd::plugin {

enum class PluginMetricType { kCounter = 1, kGauge = 2, kHistogram = 3 };

// Defines (or finds, when type and labels match) a metric; returns its handle (> 0).
Result<uint32_t> definePluginMetric(PluginMetricType type, std::string_view name,
                                    std::string_view help,
                                    const std::vector<std::string>& label_names);
// Records value on the series with label_values. Unknown handles or a label count mismatch are
// ignored (and logged once).
void recordPluginMetric(uint32_t handle, const std::vector<std::string>& label_values,
                        double value);

}  // namespace agentd::plugin
