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

TEST(SeriesCache, OneSeriesPerKeyLabelsBuiltOnce) {
  prometheus::Registry registry;
  auto& family = prometheus::BuildCounter().Name("t_calls_total").Help("h").Register(registry);
  SeriesCache<prometheus::Counter> cache(family);
  int built = 0;
  auto labels = [&](const std::string& tool) {
    return [&built, tool]() -> prometheus::Labels {
      ++built;
      return {{"tool", tool}};
    };
  };
  prometheus::Counter& a = cache.get("bash", labels("bash"));
  prometheus::Counter& again = cache.get("bash", labels("bash"));
  prometheus::Counter& b = cache.get("edit", labels("edit"));
  EXPECT_EQ(&a, &again);
  EXPECT_NE(&a, &b);
  EXPECT_EQ(built, 2);
  a.Increment(2);
  b.Increment();
  // The family holds exactly the two labelled series with their values.
  auto collected = family.Collect();
  ASSERT_EQ(collected.size(), 1u);
  ASSERT_EQ(collected[0].metric.size(), 2u);
  for (const auto& m : collected[0].metric) {
    ASSERT_EQ(m.label.size(), 1u);
    EXPECT_EQ(m.counter.value, m.label[0].value == "bash" ? 2 : 1) << m.label[0].value;
  }
}

TEST(SeriesCache, HistogramBucketsAreUsedForTheFirstAddAndThreadsShareSeries) {
  prometheus::Registry registry;
  auto& family =
      prometheus::BuildHistogram().Name("t_duration_seconds").Help("h").Register(registry);
  SeriesCache<prometheus::Histogram> cache(family);
  const prometheus::Histogram::BucketBoundaries buckets = {0.1, 1};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        cache
            .get(
                "x",
                [] {
                  return prometheus::Labels{{"tool", "x"}};
                },
                buckets)
            .Observe(0.5);
      }
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
