// Plugin-defined metrics: naming rules, reserved prefixes, idempotent definition, exposition.
#include "plugin/plugin_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include "observability/metrics.h"
#include "plugin/host.h"
#include "unit/plugin/fixture_paths.h"

namespace agentd::plugin {
namespace {

TEST(PluginMetrics, NamingRules) {
  EXPECT_TRUE(definePluginMetric(PluginMetricType::kCounter, "t_events_total", "h", {}).ok());
  EXPECT_FALSE(definePluginMetric(PluginMetricType::kCounter, "t_events", "h", {}).ok());
  EXPECT_FALSE(definePluginMetric(PluginMetricType::kGauge, "t_level_total", "h", {}).ok());
  EXPECT_FALSE(definePluginMetric(PluginMetricType::kGauge, "Bad-Name", "h", {}).ok());
  EXPECT_FALSE(definePluginMetric(PluginMetricType::kGauge, "config_x", "h", {}).ok())
      << "host prefix";
  EXPECT_FALSE(definePluginMetric(PluginMetricType::kGauge, "plugins_loaded", "h", {}).ok());
  EXPECT_FALSE(definePluginMetric(PluginMetricType::kGauge, "t_g", "h",
                                  {"a", "b", "c", "d", "e", "f", "g", "h", "i"})
                   .ok());
  EXPECT_FALSE(definePluginMetric(PluginMetricType::kHistogram, "t_h", "h", {"le"}).ok());
}

TEST(PluginMetrics, SameDefinitionSharesHandleOtherwiseRefused) {
  auto a = definePluginMetric(PluginMetricType::kGauge, "t_shared", "h", {"x"});
  auto b = definePluginMetric(PluginMetricType::kGauge, "t_shared", "h", {"x"});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_FALSE(definePluginMetric(PluginMetricType::kGauge, "t_shared", "h", {"y"}).ok());
  EXPECT_FALSE(definePluginMetric(PluginMetricType::kHistogram, "t_shared", "h", {"x"}).ok());
}

double sampleValue(const std::string& text, const std::string& series) {
  size_t at = text.find(series + " ");
  return at == std::string::npos ? 0 : std::stod(text.substr(at + series.size() + 1));
}

std::string exposition() {
  prometheus::TextSerializer ser;
  return ser.Serialize(metrics::registry().Collect());
}

TEST(PluginMetrics, FixtureCounterIsExposed) {
  const std::string series = "agentd_fixture_good_calls_total{tool=\"noop\"}";
  double before = sampleValue(exposition(), series);
  PluginHost host({agentd::testing::tempDir("pm"), std::chrono::milliseconds(1000)});
  PluginSpec s;
  s.path = agentd::testing::fixture("good_cpp");
  ASSERT_TRUE(host.apply({s}).isOk());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(host.call("noop", "{}", {}).ok);
  std::string text = exposition();
  ASSERT_NE(text.find(series), std::string::npos) << text;
  EXPECT_EQ(sampleValue(text, series) - before, 3);
}

}  // namespace
}  // namespace agentd::plugin
