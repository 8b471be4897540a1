#include "observability/series_cache.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>
#include <thread>
#include <vector>

namespace agentd::metrics {
namespace {

TEST(SeriesCache, OneSeriesPerLabelValuesWithTheirNames) {
  prometheus::Registry registry;
  auto& family = prometheus::BuildCounter().Name("t_calls_total").Help("h").Register(registry);
  SeriesCache<prometheus::Counter> cache(family, {"tool", "result"});
  prometheus::Counter& a = cache.get({"bash", "ok"});
  prometheus::Counter& again = cache.get({"bash", "ok"});
  prometheus::Counter& b = cache.get({"bash", "error"});
  // Values that would run together if simply joined stay apart.
  prometheus::Counter& c = cache.get({"ba", "shok"});
  EXPECT_EQ(&a, &again);
  EXPECT_NE(&a, &b);
  EXPECT_NE(&a, &c);
  a.Increment(2);
  b.Increment();
  // The family holds exactly the three labelled series with their values.
  auto collected = family.Collect();
  ASSERT_EQ(collected.size(), 1u);
  ASSERT_EQ(collected[0].metric.size(), 3u);
  for (const auto& m : collected[0].metric) {
    ASSERT_EQ(m.label.size(), 2u);
    EXPECT_EQ(m.label[0].name, "result");  // prometheus-cpp orders labels by name
    EXPECT_EQ(m.label[1].name, "tool");
    std::string id = m.label[1].value + "/" + m.label[0].value;
    double want = id == "bash/ok" ? 2 : id == "bash/error" ? 1 : 0;
    EXPECT_EQ(m.counter.value, want) << id;
  }
}

TEST(SeriesCache, HistogramBucketsAreUsedForTheFirstAddAndThreadsShareSeries) {
  prometheus::Registry registry;
  auto& family =
      prometheus::BuildHistogram().Name("t_duration_seconds").Help("h").Register(registry);
  SeriesCache<prometheus::Histogram> cache(family, {"tool"});
  const prometheus::Histogram::BucketBoundaries buckets = {0.1, 1};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) cache.get({"x"}, buckets).Observe(0.5);
    });
  }
  for (auto& th : threads) th.join();
  auto collected = family.Collect();
  ASSERT_EQ(collected.size(), 1u);
  ASSERT_EQ(collected[0].metric.size(), 1u);
  const auto& h = collected[0].metric[0].histogram;
  EXPECT_EQ(h.sample_count, 4000u);
  ASSERT_EQ(h.bucket.size(), 3u);  // 0.1, 1, +Inf
  EXPECT_EQ(h.bucket[0].cumulative_count, 0u);
  EXPECT_EQ(h.bucket[1].cumulative_count, 4000u);
}

}  // namespace
}  // namespace agentd::metrics
