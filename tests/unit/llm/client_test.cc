// LlmClient with offline providers: option validation, cache hits and TTL, errors never cached,
// fallback on exhaustion and on an open circuit, no fallback on 401, call timeout, shutdown,
// the blocking wrapper's guard, and the metric names checked by promtool.
#include "llm/client.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "support/subprocess.h"
#include "unit/llm/llm_test_util.h"

namespace agentd::llm {
namespace {

using agentd::testing::freshDir;
using agentd::testing::writeFile;
using namespace std::chrono_literals;

ProviderOptions scripted(const std::string& name, const std::string& script, int attempts = 1) {
  std::string path = freshDir("client-" + name) + "/script.jsonl";
  writeFile(path, script);
  ProviderOptions p;
  p.name = name;
  p.type = "scripted";
  p.script_path = path;
  p.retry.max_attempts = attempts;
  p.retry.base_backoff = 1ms;
  p.retry.max_backoff = 2ms;
  return p;
}

ModelOptions model(const std::string& name, const std::string& provider,
                   std::vector<std::string> fallback = {}) {
  ModelOptions m;
  m.name = name;
  m.provider = provider;
  m.model = name + "-id";
  m.fallback = std::move(fallback);
  return m;
}

TEST(LlmClient, OptionsAreValidated) {
  auto p = scripted("s", "");
  auto expectError = [](Result<std::unique_ptr<LlmClient>> r, const std::string& needle) {
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  };
  expectError(LlmClient::create({p, p}, {}), "defined twice");
  expectError(LlmClient::create({p}, {model("a", "nope")}), "unknown provider");
  expectError(LlmClient::create({p}, {model("a", "s", {"b"})}), "unknown fallback");
  expectError(LlmClient::create({p}, {model("a", "s", {"a"})}), "repeats");
  ProviderOptions bad = p;
  bad.type = "gemini";
  expectError(LlmClient::create({bad}, {}), "unknown type");
  ProviderOptions http;
  http.name = "h";
  http.type = "openai";
  http.base_url = "127.0.0.1:9";
  expectError(LlmClient::create({http}, {}), "base_url");
  http.base_url = "http://127.0.0.1:9/v1";
  ModelOptions no_id = model("a", "h");
  no_id.model.clear();
  expectError(LlmClient::create({http}, {no_id}), "model (the provider's id) is empty");
  auto ok = LlmClient::create({p}, {model("a", "s")});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)->chat("zzz", {}).status().code(), Status::Code::kNotFound);
}

TEST(LlmClient, CacheServesRepeatsAndNeverStoresErrors) {
  auto p = scripted("s", R"({"error":{"http_status":400,"message":"bad"}}
{"content":"fresh","usage":{"input_tokens":5,"output_tokens":1}}
)");
  ModelOptions m = model("cached", "s");
  m.cache.enabled = true;
  auto client = LlmClient::create({p}, {m});
  ASSERT_TRUE(client.ok());
  ChatRequest q = testutil::userRequest("same question");
  double hits = testutil::metric("agentd_llm_cache_requests_total{result=\"hit\"}");
  double misses = testutil::metric("agentd_llm_cache_requests_total{result=\"miss\"}");

  EXPECT_EQ((*client)->chat("cached", q).status().code(), Status::Code::kInvalidArgument);
  auto second = (*client)->chat("cached", q);
  ASSERT_TRUE(second.ok()) << "the error was not cached: " << second.status().toString();
  EXPECT_FALSE(second->cached);
  std::string streamed;
  CallOptions o;
  o.on_delta = [&](const StreamDelta& d) { streamed += d.text; };
  auto third = (*client)->chat("cached", q, o);
  ASSERT_TRUE(third.ok()) << "served from the cache, the script being exhausted";
  EXPECT_TRUE(third->cached);
  EXPECT_EQ(third->content, "fresh");
  EXPECT_EQ(streamed, "fresh") << "a cache hit streams too";
  EXPECT_EQ(testutil::metric("agentd_llm_cache_requests_total{result=\"hit\"}") - hits, 1);
  EXPECT_EQ(testutil::metric("agentd_llm_cache_requests_total{result=\"miss\"}") - misses, 2);
  EXPECT_FALSE((*client)->chat("cached", testutil::userRequest("other")).ok())
      << "a different request misses";
}

TEST(LlmClient, CacheEntriesExpire) {
  auto p = scripted("s", R"({"content":"one"}
{"content":"two"}
)");
  ModelOptions m = model("cached", "s");
  m.cache.enabled = true;
  m.cache.ttl = 100ms;
  auto client = LlmClient::create({p}, {m});
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->chat("cached", {})->content, "one");
  EXPECT_EQ((*client)->chat("cached", {})->content, "one");
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ((*client)->chat("cached", {})->content, "two");
}

TEST(LlmClient, FallbackOnExhaustionThenOnOpenCircuit) {
  auto primary = scripted("primary", R"({"error":{"http_status":503,"message":"down"}}
{"error":{"http_status":503,"message":"down"}}
{"error":{"http_status":503,"message":"down"}}
{"error":{"http_status":503,"message":"down"}}
{"content":"primary is back"}
)",
                          2);
  primary.breaker.failure_threshold = 4;
  primary.breaker.open_duration = 300ms;
  auto backup = scripted("backup", R"({"content":"from backup 1"}
{"content":"from backup 2"}
{"content":"from backup 3"}
)");
  auto client = LlmClient::create({primary, backup},
                                  {model("main", "primary", {"spare"}), model("spare", "backup")});
  ASSERT_TRUE(client.ok()) << client.status().toString();
  auto& c = **client;

  auto r1 = c.chat("main", {});
  ASSERT_TRUE(r1.ok()) << r1.status().toString();
  EXPECT_EQ(r1->content, "from backup 1");
  EXPECT_EQ(r1->provider, "backup");
  EXPECT_EQ(c.circuitState("primary"), CircuitState::kClosed);
  auto r2 = c.chat("main", {});
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->content, "from backup 2");
  EXPECT_EQ(c.circuitState("primary"), CircuitState::kOpen) << "four 503s in a row";
  EXPECT_EQ(testutil::metric("agentd_llm_circuit_state{provider=\"primary\"}"), 1);

  // Open: the primary is skipped without consuming its script.
  auto r3 = c.chat("main", {});
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->content, "from backup 3");
  std::this_thread::sleep_for(350ms);
  auto r4 = c.chat("main", {});
  ASSERT_TRUE(r4.ok()) << r4.status().toString();
  EXPECT_EQ(r4->content, "primary is back") << "the half-open probe went to the primary";
  EXPECT_EQ(c.circuitState("primary"), CircuitState::kClosed);
  EXPECT_EQ(testutil::metric("agentd_llm_circuit_state{provider=\"primary\"}"), 0);
}

TEST(LlmClient, EveryLegFailedNamesEachAndNonRetryableErrorsDoNotFallBack) {
  auto primary = scripted("primary", R"({"error":{"http_status":401,"message":"bad key"}}
{"error":{"http_status":500,"message":"boom"}}
)");
  auto backup = scripted("backup", R"({"error":{"http_status":502,"message":"gateway"}}
)");
  auto client = LlmClient::create({primary, backup},
                                  {model("main", "primary", {"spare"}), model("spare", "backup")});
  ASSERT_TRUE(client.ok());
  auto denied = (*client)->chat("main", {});
  EXPECT_EQ(denied.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(denied.status().message().find("backup"), std::string::npos)
      << "401 is not retryable and does not fall back: " << denied.status().message();
  auto all = (*client)->chat("main", {});
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(all.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(all.status().message().find("every provider failed"), std::string::npos);
  EXPECT_NE(all.status().message().find("boom"), std::string::npos) << all.status().message();
  EXPECT_NE(all.status().message().find("gateway"), std::string::npos);
}

TEST(LlmClient, CallTimeoutAndShutdownComplete) {
  auto p = scripted("s", R"({"content":"slow","delay_ms":10000}
{"content":"slow","delay_ms":10000}
)");
  auto client = LlmClient::create({p}, {model("m", "s")});
  ASSERT_TRUE(client.ok());
  CallOptions o;
  o.timeout = 100ms;
  auto start = std::chrono::steady_clock::now();
  auto r = (*client)->chat("m", {}, o);
  EXPECT_EQ(r.status().code(), Status::Code::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);

  std::promise<Status> done;
  (*client)->chatAsync("m", {}, {}, [&](Result<ChatResponse> r) { done.set_value(r.status()); });
  client->reset();
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(0s), std::future_status::ready) << "destruction completes every call";
  EXPECT_EQ(f.get().code(), Status::Code::kCancelled);
}

TEST(LlmClient, BlockingCallOnTheEventThreadIsRefused) {
  auto p = scripted("s", R"({"content":"a"})", 1);
  p.script_cycle = true;
  auto client = LlmClient::create({p}, {model("m", "s")});
  ASSERT_TRUE(client.ok());
  std::promise<Status> inner;
  (*client)->chatAsync("m", {}, {}, [&](Result<ChatResponse>) {
    inner.set_value((*client)->chat("m", {}).status());
  });
  auto f = inner.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get().code(), Status::Code::kFailedPrecondition);
}

TEST(LlmClient, MetricNamesPassPromtool) {
  auto p = scripted("promcheck", R"({"error":{"http_status":429,"message":"slow down"}}
{"content":"ok","usage":{"input_tokens":7,"output_tokens":3,"cache_read_tokens":2}}
)",
                    2);
  ModelOptions m = model("m", "promcheck");
  m.cache.enabled = true;
  auto client = LlmClient::create({p}, {m});
  ASSERT_TRUE(client.ok());
  double hits = testutil::metric("agentd_llm_cache_requests_total{result=\"hit\"}");
  ASSERT_TRUE((*client)->chat("m", {}).ok());
  ASSERT_TRUE((*client)->chat("m", {}).ok());
  EXPECT_EQ(testutil::metric("agentd_llm_cache_requests_total{result=\"hit\"}") - hits, 1);
  std::string text = testutil::exposition();
  for (const char* series : {"agentd_gen_ai_client_operation_duration_seconds_count{model=\"m-id\","
                             "provider=\"promcheck\",status=\"ok\"} 1",
                             "agentd_gen_ai_client_token_usage_total{model=\"m-id\",provider="
                             "\"promcheck\",type=\"input\"} 7",
                             "agentd_gen_ai_client_token_usage_total{model=\"m-id\",provider="
                             "\"promcheck\",type=\"cache_read\"} 2",
                             "agentd_llm_retries_total{provider=\"promcheck\",reason=\"429\"} 1",
                             "agentd_llm_circuit_state{provider=\"promcheck\"} 0"}) {
    EXPECT_NE(text.find(series), std::string::npos) << series << "\n" << text;
  }
  auto check = agentd::testing::run({"/usr/bin/promtool", "check", "metrics"},
                                    std::chrono::seconds(30), text);
  EXPECT_EQ(check.code, 0) << check.output;
  EXPECT_EQ(check.output, "") << check.output;
}

}  // namespace
}  // namespace agentd::llm
