// The model-call metrics, registered in the process registry on first use. Labels carry
// provider and model names only, never keys or URLs. Thread-safe.
#pragma once

#include <string>

#include "llm/circuit_breaker.h"
#include "llm/types.h"

namespace agentd::llm::metrics {

// agentd_gen_ai_client_operation_duration_seconds{provider,model,status}
void observeOperation(const std::string& provider, const std::string& model,
                      const std::string& status, double seconds);
// agentd_gen_ai_client_token_usage_total{provider,model,type}, type in input, output,
// cache_read, cache_creation.
void addTokens(const std::string& provider, const std::string& model, const Usage& usage);
// agentd_llm_retries_total{provider,reason}
void countRetry(const std::string& provider, const std::string& reason);
// agentd_llm_cache_requests_total{result}, result in hit, miss.
void countCache(bool hit);
// agentd_llm_circuit_state{provider}: 0 closed, 1 open, 2 half-open.
void setCircuitState(const std::string& provider, CircuitState state);

}  // namespace agentd::llm::metrics
