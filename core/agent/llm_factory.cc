#include "agent/llm_factory.h"

#include "agent/http_pump.h"

namespace agentd::agent {

namespace {

using std::chrono::milliseconds;

llm::ProviderOptions providerOptions(const config::ProviderConfig& p) {
  llm::ProviderOptions o;
  o.name = p.name;
  o.type = p.type;
  o.base_url = p.base_url;
  if (o.base_url.empty() && p.type == "openai") o.base_url = "https://api.openai.com/v1";
  if (o.base_url.empty() && p.type == "anthropic") o.base_url = "https://api.anthropic.com";
  o.api_key = p.api_key;
  if (!p.api_version.empty()) o.api_version = p.api_version;
  for (const auto& [k, v] : p.headers) o.headers.emplace_back(k, v);
  o.connect_timeout = milliseconds(p.connect_timeout_ms);
  o.first_byte_timeout = milliseconds(p.first_byte_timeout_ms);
  o.total_timeout = milliseconds(p.timeout_ms);
  o.retry.max_attempts = p.max_attempts;
  o.retry.max_elapsed = milliseconds(p.retry_max_elapsed_ms);
  o.record_path = p.record;
  o.script_path = p.script;
  o.script_cycle = p.script_cycle;
  o.cassette_path = p.cassette;
  return o;
}

llm::ModelOptions modelOptions(const config::ModelConfig& m) {
  llm::ModelOptions o;
  o.name = m.name;
  o.provider = m.provider;
  o.model = m.model.empty() ? m.name : m.model;
  o.max_tokens = m.max_tokens;
  o.temperature = m.temperature;
  o.top_p = m.top_p;
  o.parallel_tool_calls = m.parallel_tool_calls;
  o.fallback = m.fallback;
  o.cache.enabled = m.cache;
  o.cache.ttl = std::chrono::seconds(m.cache_ttl_seconds);
  o.cache.max_bytes = static_cast<size_t>(m.cache_max_bytes);
  return o;
}

}  // namespace

Result<std::shared_ptr<llm::LlmClient>> makeLlmClient(const config::Config& cfg,
                                                      const AdHocModel& extra,
                                                      boost::asio::io_context* io) {
  std::vector<llm::ProviderOptions> providers;
  std::vector<llm::ModelOptions> models;
  for (const auto& [name, p] : cfg.model_providers) providers.push_back(providerOptions(p));
  for (const auto& [name, m] : cfg.models) models.push_back(modelOptions(m));
  if (!extra.name.empty()) {
    if (!cfg.model_providers.count(extra.provider)) {
      return Status::invalidArgument("no [model_providers." + extra.provider + "] is defined");
    }
    llm::ModelOptions o;
    o.name = extra.name;
    o.provider = extra.provider;
    o.model = extra.model;
    models.push_back(o);
  }
  if (models.empty()) return std::shared_ptr<llm::LlmClient>();
  llm::LlmClient::Options options;
  options.http.external_loop = io != nullptr;
  auto client = llm::LlmClient::create(std::move(providers), std::move(models), options);
  if (!client.ok()) return client.status();
  if (io) driveOnIo(*io, (*client)->http().loop());
  return std::shared_ptr<llm::LlmClient>(std::move(*client));
}

bool llmKeysChanged(const std::vector<std::string>& changed) {
  for (const auto& k : changed) {
    if (k.rfind("model_providers", 0) == 0 || k.rfind("models", 0) == 0) return true;
  }
  return false;
}

}  // namespace agentd::agent
