// Shared fixture of the llm integration tests: one fake model server per test and builders for
// providers pointed at it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "llm/client.h"
#include "support/fake_model_server.h"
#include "unit/llm/llm_test_util.h"

namespace agentd::llm {

class LlmServerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()) << server_.stderrText(); }

  // A provider whose requests carry x-fake-key: key and, when set, x-fake-faults: faults.
  ProviderOptions provider(const std::string& name, const std::string& type, const std::string& key,
                           const std::string& faults = "") {
    ProviderOptions p;
    p.name = name;
    p.type = type;
    p.base_url = type == "openai" ? server_.openAiBase() : server_.anthropicBase();
    p.api_key = "test-key-" + name;
    p.headers.emplace_back("x-fake-key", key);
    if (!faults.empty()) p.headers.emplace_back("x-fake-faults", faults);
    p.retry.base_backoff = std::chrono::milliseconds(10);
    p.retry.max_backoff = std::chrono::milliseconds(50);
    p.first_byte_timeout = std::chrono::seconds(10);
    p.total_timeout = std::chrono::seconds(20);
    return p;
  }

  static ModelOptions model(const std::string& name, const std::string& provider,
                            std::vector<std::string> fallback = {}) {
    ModelOptions m;
    m.name = name;
    m.provider = provider;
    m.model = name + "-id";
    m.max_tokens = 128;
    m.fallback = std::move(fallback);
    return m;
  }

  std::unique_ptr<LlmClient> client(std::vector<ProviderOptions> p, std::vector<ModelOptions> m) {
    auto c = LlmClient::create(std::move(p), std::move(m));
    EXPECT_TRUE(c.ok()) << c.status().toString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  agentd::testing::FakeModelServer server_;
};

}  // namespace agentd::llm
