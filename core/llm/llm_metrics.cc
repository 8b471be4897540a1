#include "llm/llm_metrics.h"

#include <string>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "observability/metrics.h"
#include "observability/series_cache.h"

namespace agentd::llm::metrics {
namespace {

struct Families {
  prometheus::Family<prometheus::Histogram>& duration =
      prometheus::BuildHistogram()
          .Name("agentd_gen_ai_client_operation_duration_seconds")
          .Help("Duration of model calls per provider, retries included, by outcome.")
          .Register(agentd::metrics::registry());
  prometheus::Family<prometheus::Counter>& tokens =
      prometheus::BuildCounter()
          .Name("agentd_gen_ai_client_token_usage_total")
          .Help("Tokens reported by model providers, by type (input includes cached input).")
          .Register(agentd::metrics::registry());
  prometheus::Family<prometheus::Counter>& retries =
      prometheus::BuildCounter()
          .Name("agentd_llm_retries_total")
          .Help("Model call attempts retried, by the reason of the failed attempt.")
          .Register(agentd::metrics::registry());
  prometheus::Family<prometheus::Counter>& cache =
      prometheus::BuildCounter()
          .Name("agentd_llm_cache_requests_total")
          .Help("Response cache lookups by result (hit, miss).")
          .Register(agentd::metrics::registry());
  prometheus::Family<prometheus::Gauge>& circuit =
      prometheus::BuildGauge()
          .Name("agentd_llm_circuit_state")
          .Help("Circuit breaker state per provider: 0 closed, 1 open, 2 half-open.")
          .Register(agentd::metrics::registry());
};

Families& families() {
  static Families f;
  return f;
}

}  // namespace

void observeOperation(const std::string& provider, const std::string& model,
                      const std::string& status, double seconds) {
  static agentd::metrics::SeriesCache<prometheus::Histogram> cache(families().duration,
                                                                   {"provider", "model", "status"});
  cache.get({provider, model, status}, agentd::metrics::durationBuckets()).Observe(seconds);
}

void addTokens(const std::string& provider, const std::string& model, const Usage& usage) {
  static agentd::metrics::SeriesCache<prometheus::Counter> cache(families().tokens,
                                                                 {"provider", "model", "type"});
  auto add = [&](const char* type, int64_t n) {
    cache.get({provider, model, type}).Increment(static_cast<double>(n > 0 ? n : 0));
  };
  add("input", usage.input_tokens);
  add("output", usage.output_tokens);
  add("cache_read", usage.cache_read_tokens);
  add("cache_creation", usage.cache_creation_tokens);
}

void countRetry(const std::string& provider, const std::string& reason) {
  families().retries.Add({{"provider", provider}, {"reason", reason}}).Increment();
}

void countCache(bool hit) {
  static prometheus::Counter& hits = families().cache.Add({{"result", "hit"}});
  static prometheus::Counter& misses = families().cache.Add({{"result", "miss"}});
  (hit ? hits : misses).Increment();
}

void setCircuitState(const std::string& provider, CircuitState state) {
  families().circuit.Add({{"provider", provider}}).Set(static_cast<double>(state));
}

}  // namespace agentd::llm::metrics
