// Scripted provider: both file formats, turns in order, tool calls, streaming, scripted errors
// retried like real ones, exhaustion, cycling, and parse errors that name the line.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "common/sha256.h"
#include "llm/client.h"
#include "llm/provider.h"
#include "support/subprocess.h"
#include "unit/llm/llm_test_util.h"

namespace agentd::llm {
namespace {

using agentd::testing::freshDir;
using agentd::testing::writeFile;
using namespace std::chrono_literals;

std::unique_ptr<LlmClient> scriptedClient(const std::string& script, bool cycle = false,
                                          int max_attempts = 3) {
  std::string path = freshDir("scripted") + "/script.jsonl";
  writeFile(path, script);
  ProviderOptions p;
  p.name = "script";
  p.type = "scripted";
  p.script_path = path;
  p.script_cycle = cycle;
  p.retry.max_attempts = max_attempts;
  p.retry.base_backoff = 1ms;
  p.retry.max_backoff = 5ms;
  ModelOptions m;
  m.name = "offline";
  m.provider = "script";
  auto c = LlmClient::create({p}, {m});
  EXPECT_TRUE(c.ok()) << c.status().toString();
  return c.ok() ? std::move(c).value() : nullptr;
}

TEST(LlmScripted, JsonLinesTurnsInOrderWithToolCalls) {
  auto client = scriptedClient(
      "# a comment line\n"
      R"({"tool_calls":[{"id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}]})"
      "\n\n"
      R"({"content":"It is sunny in Paris.","usage":{"input_tokens":12,"output_tokens":6}})"
      "\n");
  ASSERT_TRUE(client);
  auto first = client->chat("offline", testutil::userRequest("weather?"));
  ASSERT_TRUE(first.ok()) << first.status().toString();
  EXPECT_EQ(first->content, "");
  ASSERT_EQ(first->tool_calls.size(), 1u);
  EXPECT_EQ(first->tool_calls[0], (ToolCall{"call_1", "get_weather", R"({"city":"Paris"})"}));
  EXPECT_EQ(first->finish_reason, FinishReason::kToolCalls);
  EXPECT_EQ(first->provider, "script");
  auto second = client->chat("offline", testutil::userRequest("and?"));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->content, "It is sunny in Paris.");
  EXPECT_EQ(second->finish_reason, FinishReason::kStop);
  EXPECT_EQ(second->usage.input_tokens, 12);
  auto third = client->chat("offline", testutil::userRequest("more?"));
  EXPECT_EQ(third.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(third.status().message().find("no turn left"), std::string::npos)
      << third.status().message();
}

TEST(LlmScripted, JsonArrayCyclesWhenAsked) {
  auto client = scriptedClient(R"([{"content":"one"},{"content":"two"}])", true);
  ASSERT_TRUE(client);
  std::vector<std::string> got;
  for (int i = 0; i < 5; ++i) got.push_back(client->chat("offline", {}).value().content);
  EXPECT_EQ(got, (std::vector<std::string>{"one", "two", "one", "two", "one"}));
}

TEST(LlmScripted, StreamingDeliversDeltasThatRebuildTheTurn) {
  auto client = scriptedClient(
      R"({"content":"Hello there, world","tool_calls":[{"name":"t","arguments":{"long_argument_name":"long value here"}}]})");
  ASSERT_TRUE(client);
  std::string text, args;
  int starts = 0;
  CallOptions o;
  o.on_delta = [&](const StreamDelta& d) {
    if (d.kind == StreamDelta::Kind::kText) text += d.text;
    if (d.kind == StreamDelta::Kind::kToolCallStart) ++starts;
    if (d.kind == StreamDelta::Kind::kToolCallArguments) args += d.text;
  };
  auto r = client->chat("offline", testutil::userRequest("x"), o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(text, "Hello there, world");
  EXPECT_EQ(starts, 1);
  EXPECT_EQ(args, r->tool_calls[0].arguments);
  EXPECT_EQ(r->tool_calls[0].id, "call_0") << "ids default to call_<n>";
}

TEST(LlmScripted, ScriptedErrorsAreClassifiedAndRetried) {
  auto client = scriptedClient(
      R"({"error":{"http_status":503,"message":"busy"}}
{"error":{"transport":"reset"}}
{"content":"finally"}
{"error":{"http_status":401,"message":"nope"}}
{"content":"never reached by the 401 call"}
)");
  ASSERT_TRUE(client);
  double before = testutil::metric("agentd_llm_retries_total{provider=\"script\",reason=\"503\"}");
  auto r = client->chat("offline", testutil::userRequest("x"));
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->content, "finally");
  EXPECT_EQ(
      testutil::metric("agentd_llm_retries_total{provider=\"script\",reason=\"503\"}") - before, 1);
  auto denied = client->chat("offline", testutil::userRequest("x"));
  EXPECT_EQ(denied.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(denied.status().message().find("HTTP 401: nope"), std::string::npos);
  EXPECT_EQ(client->chat("offline", {}).value().content, "never reached by the 401 call")
      << "the 401 was not retried, so the next turn is still there";
}

TEST(LlmScripted, DelayedTurnCanBeCancelled) {
  auto client = scriptedClient(R"({"content":"late","delay_ms":5000})");
  ASSERT_TRUE(client);
  std::promise<Result<ChatResponse>> p;
  auto start = std::chrono::steady_clock::now();
  CallHandle h = client->chatAsync("offline", {}, {},
                                   [&](Result<ChatResponse> r) { p.set_value(std::move(r)); });
  std::this_thread::sleep_for(50ms);
  h.cancel();
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(f.get().status().code(), Status::Code::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(LlmScripted, ParseErrorsNameTheLine) {
  auto bad = parseScript("{\"content\":\"ok\"}\n{\"content\": }\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos) << bad.status().message();
  auto no_name = parseScript(R"([{"tool_calls":[{"arguments":{}}]}])");
  ASSERT_FALSE(no_name.ok());
  EXPECT_NE(no_name.status().message().find("turn 1"), std::string::npos);
  EXPECT_FALSE(parseScript(R"({"error":{"message":"which kind?"}})").ok());
  EXPECT_TRUE(parseScript("").ok());

  ProviderOptions p;
  p.name = "s";
  p.type = "scripted";
  p.script_path = "/nonexistent/script.jsonl";
  EXPECT_FALSE(LlmClient::create({p}, {}).ok());
}

}  // namespace
}  // namespace agentd::llm

namespace agentd::llm {
namespace {

TEST(LlmScripted, ShippedExampleScriptParses) {
  auto text = readFile(std::string(AGENTD_SOURCE_DIR) + "/config/examples/scripted-turns.jsonl");
  ASSERT_TRUE(text.ok()) << text.status().toString();
  auto turns = parseScript(*text);
  ASSERT_TRUE(turns.ok()) << turns.status().toString();
  ASSERT_EQ(turns->size(), 3u);
  EXPECT_EQ((*turns)[0].response.tool_calls[0].name, "sequentialthinking");
  EXPECT_EQ((*turns)[1].response.finish_reason, FinishReason::kToolCalls);
  EXPECT_FALSE((*turns)[2].response.content.empty());
}

}  // namespace
}  // namespace agentd::llm
