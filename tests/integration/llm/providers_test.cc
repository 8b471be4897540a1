// OpenAI and Anthropic providers against the fake server: wire format seen by the server, whole
// and streamed answers (tool-call deltas assembled), tool-result turns, usage, recording and
// replay, and API keys kept out of errors, logs, metrics and cassettes.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/json.h"
#include "integration/llm/llm_fixture.h"
#include "llm/canonical.h"
#include "observability/log.h"
#include "support/subprocess.h"

namespace agentd::llm {
namespace {

using testutil::timeTool;
using testutil::userRequest;
using testutil::weatherTool;

struct Streamed {
  std::string text;
  std::map<int, std::string> args;
  std::map<int, std::string> names;
  int deltas = 0;
};

CallOptions streamInto(Streamed* s) {
  CallOptions o;
  o.on_delta = [s](const StreamDelta& d) {
    ++s->deltas;
    if (d.kind == StreamDelta::Kind::kText) s->text += d.text;
    if (d.kind == StreamDelta::Kind::kToolCallStart) s->names[d.index] = d.name;
    if (d.kind == StreamDelta::Kind::kToolCallArguments) s->args[d.index] += d.text;
  };
  return o;
}

rapidjson::Document doc(const std::string& s) {
  auto d = json::parse(s);
  EXPECT_TRUE(d.ok()) << s;
  return d.ok() ? std::move(d).value() : rapidjson::Document();
}

ChatRequest toolRequest() {
  ChatRequest r;
  r.messages.push_back(Message::system("You are terse."));
  r.messages.push_back(Message::user("weather and time in Paris"));
  r.tools = {weatherTool(), timeTool()};
  return r;
}

class ProvidersTest : public LlmServerTest {};

TEST_F(ProvidersTest, OpenAiWholeAndStreamedToolCalls) {
  auto c = client({provider("oa", "openai", "oa")}, {model("gpt", "oa")});
  ASSERT_TRUE(c);
  auto whole = c->chat("gpt", toolRequest());
  ASSERT_TRUE(whole.ok()) << whole.status().toString();
  EXPECT_EQ(whole->finish_reason, FinishReason::kToolCalls);
  ASSERT_EQ(whole->tool_calls.size(), 2u);
  EXPECT_EQ(whole->tool_calls[0].id, "call_0");
  EXPECT_EQ(whole->tool_calls[0].name, "get_weather");
  EXPECT_EQ(whole->tool_calls[1].name, "get_time");
  EXPECT_EQ(doc(whole->tool_calls[1].arguments)["query"].GetString(),
            std::string("weather and time in Paris"));
  EXPECT_EQ(whole->model, "gpt-id");
  EXPECT_EQ(whole->provider, "oa");
  EXPECT_GT(whole->usage.input_tokens, 2);
  EXPECT_EQ(whole->usage.cache_read_tokens, 2);

  auto seen = server_.attempts("oa");
  auto body = doc(seen.last_body);
  EXPECT_STREQ(body["model"].GetString(), "gpt-id");
  EXPECT_EQ(body["max_tokens"].GetInt(), 128);
  EXPECT_STREQ(body["messages"][0]["role"].GetString(), "system");
  EXPECT_STREQ(body["tools"][1]["function"]["name"].GetString(), "get_time");
  EXPECT_FALSE(body.HasMember("stream"));
  auto headers = doc(seen.last_headers);
  EXPECT_STREQ(headers["authorization"].GetString(), "Bearer test-key-oa");
  EXPECT_NE(std::string(headers["user-agent"].GetString()).find("agentd/"), std::string::npos);

  Streamed s;
  auto streamed = c->chat("gpt", toolRequest(), streamInto(&s));
  ASSERT_TRUE(streamed.ok()) << streamed.status().toString();
  EXPECT_EQ(streamed->tool_calls, whole->tool_calls) << "same answer, assembled from deltas";
  EXPECT_EQ(streamed->usage, whole->usage) << "usage from the include_usage chunk";
  EXPECT_EQ(s.names[0], "get_weather");
  EXPECT_EQ(s.args[0], whole->tool_calls[0].arguments);
  EXPECT_EQ(s.args[1], whole->tool_calls[1].arguments);
  EXPECT_GT(s.deltas, 6) << "arguments arrived in several pieces";
  EXPECT_TRUE(doc(server_.attempts("oa").last_body)["stream"].GetBool());
}

TEST_F(ProvidersTest, OpenAiParallelToolCallsOffAndToolResultTurn) {
  ModelOptions m = model("gpt", "oa");
  m.parallel_tool_calls = false;
  auto c = client({provider("oa", "openai", "serial")}, {m});
  ASSERT_TRUE(c);
  ChatRequest q = toolRequest();
  auto first = c->chat("gpt", q);
  ASSERT_TRUE(first.ok()) << first.status().toString();
  ASSERT_EQ(first->tool_calls.size(), 1u) << "the server honoured parallel_tool_calls=false";
  EXPECT_FALSE(doc(server_.attempts("serial").last_body)["parallel_tool_calls"].GetBool());
  q.messages.push_back(Message::assistant(first->content, first->tool_calls));
  q.messages.push_back(Message::toolResult(first->tool_calls[0].id, "18 C and sunny"));
  Streamed s;
  auto second = c->chat("gpt", q, streamInto(&s));
  ASSERT_TRUE(second.ok()) << second.status().toString();
  EXPECT_EQ(second->content, "tool results: 18 C and sunny");
  EXPECT_EQ(s.text, second->content);
  EXPECT_EQ(second->finish_reason, FinishReason::kStop);
  auto body = doc(server_.attempts("serial").last_body);
  EXPECT_STREQ(body["messages"][3]["role"].GetString(), "tool");
  EXPECT_STREQ(body["messages"][3]["tool_call_id"].GetString(), "call_0");
}

TEST_F(ProvidersTest, AnthropicWholeAndStreamedTextWithToolUse) {
  auto c = client({provider("an", "anthropic", "an")}, {model("claude", "an")});
  ASSERT_TRUE(c);
  auto whole = c->chat("claude", toolRequest());
  ASSERT_TRUE(whole.ok()) << whole.status().toString();
  EXPECT_EQ(whole->content, "Calling tools.");
  ASSERT_EQ(whole->tool_calls.size(), 2u);
  EXPECT_EQ(whole->tool_calls[0].id, "toolu_0");
  EXPECT_EQ(whole->finish_reason, FinishReason::kToolCalls);
  EXPECT_EQ(whole->finish_reason_raw, "tool_use");
  EXPECT_EQ(whole->usage.cache_read_tokens, 2);
  EXPECT_EQ(whole->usage.cache_creation_tokens, 1);
  auto seen = server_.attempts("an");
  auto headers = doc(seen.last_headers);
  EXPECT_STREQ(headers["x-api-key"].GetString(), "test-key-an");
  EXPECT_STREQ(headers["anthropic-version"].GetString(), "2023-06-01");
  EXPECT_FALSE(headers.HasMember("authorization"));
  auto body = doc(seen.last_body);
  EXPECT_STREQ(body["system"].GetString(), "You are terse.");
  EXPECT_EQ(body["messages"].Size(), 1u);
  EXPECT_STREQ(body["tools"][0]["name"].GetString(), "get_weather");

  Streamed s;
  auto streamed = c->chat("claude", toolRequest(), streamInto(&s));
  ASSERT_TRUE(streamed.ok()) << streamed.status().toString();
  EXPECT_EQ(streamed->content, "Calling tools.");
  EXPECT_EQ(s.text, "Calling tools.");
  ASSERT_EQ(streamed->tool_calls.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(streamed->tool_calls[i].id, whole->tool_calls[i].id);
    EXPECT_EQ(streamed->tool_calls[i].name, whole->tool_calls[i].name);
    // Whole answers carry `input` objects, streams the model's own partial_json text.
    EXPECT_EQ(canonicalJson(streamed->tool_calls[i].arguments),
              canonicalJson(whole->tool_calls[i].arguments));
    EXPECT_EQ(s.args[i], streamed->tool_calls[i].arguments);
  }
  EXPECT_EQ(streamed->usage, whole->usage) << "message_start + message_delta usage";

  // Tool results go back as tool_result blocks of one user turn.
  ChatRequest q = toolRequest();
  q.messages.push_back(Message::assistant(whole->content, whole->tool_calls));
  q.messages.push_back(Message::toolResult("toolu_0", "sunny"));
  q.messages.push_back(Message::toolResult("toolu_1", "no clock", true));
  auto second = c->chat("claude", q);
  ASSERT_TRUE(second.ok()) << second.status().toString();
  EXPECT_EQ(second->content, "tool results: sunny | no clock");
  auto last = doc(server_.attempts("an").last_body);
  ASSERT_EQ(last["messages"].Size(), 3u);
  EXPECT_TRUE(last["messages"][2]["content"][1]["is_error"].GetBool());
}

TEST_F(ProvidersTest, RecordAgainstTheServerThenReplayOffline) {
  std::string dir = agentd::testing::freshDir("llm-record");
  ProviderOptions live = provider("live", "openai", "rec");
  live.api_key = "sk-record-SECRET-123456";
  live.record_path = dir + "/cassette.jsonl";
  ChatRequest q1 = userRequest("first");
  ChatRequest q2 = toolRequest();
  ChatResponse a1, a2;
  {
    auto c = client({live}, {model("gpt", "live")});
    ASSERT_TRUE(c);
    a1 = c->chat("gpt", q1).value();
    Streamed s;
    a2 = c->chat("gpt", q2, streamInto(&s)).value();
  }
  EXPECT_EQ(server_.attempts("rec").count, 2);
  std::string tape =
      agentd::testing::run({"/bin/cat", live.record_path}, std::chrono::seconds(5)).output;
  EXPECT_EQ(tape.find("sk-record-SECRET"), std::string::npos) << "keys never reach cassettes";

  ProviderOptions replay;
  replay.name = "tape";
  replay.type = "replay";
  replay.cassette_path = live.record_path;
  auto c = client({replay}, {model("gpt", "tape")});
  ASSERT_TRUE(c);
  auto r2 = c->chat("gpt", q2);
  ASSERT_TRUE(r2.ok()) << r2.status().toString();
  ASSERT_EQ(r2->tool_calls.size(), a2.tool_calls.size());
  for (size_t i = 0; i < a2.tool_calls.size(); ++i) {
    EXPECT_EQ(r2->tool_calls[i].id, a2.tool_calls[i].id);
    EXPECT_EQ(r2->tool_calls[i].name, a2.tool_calls[i].name);
    EXPECT_EQ(canonicalJson(r2->tool_calls[i].arguments), canonicalJson(a2.tool_calls[i].arguments))
        << "cassettes keep arguments as canonical JSON";
  }
  EXPECT_EQ(r2->usage, a2.usage);
  auto r1 = c->chat("gpt", q1);
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->content, a1.content);
  EXPECT_EQ(server_.attempts("rec").count, 2) << "replay never touched the server";
  auto miss = c->chat("gpt", userRequest("unrecorded"));
  EXPECT_EQ(miss.status().code(), Status::Code::kNotFound);
  EXPECT_NE(miss.status().message().find("has no response for request"), std::string::npos);
}

TEST_F(ProvidersTest, ApiKeysNeverInErrorsLogsOrMetrics) {
  const std::string oa_key = "sk-openai-SECRET-0123456789";
  const std::string an_key = "sk-ant-SECRET-9876543210";
  const std::string header_secret = "tok-SECRET-abcdef";
  ProviderOptions oa = provider("oa_keyed", "openai", "k1", "401");
  oa.api_key = oa_key;
  oa.headers.emplace_back("X-Custom-Token", header_secret);
  ProviderOptions an = provider("an_keyed", "anthropic", "k2", "401");
  an.api_key = an_key;
  std::string dir = agentd::testing::freshDir("llm-redact");
  log::Level saved = log::level();
  log::setLevel(log::Level::kDebug);
  testutil::StderrCapture capture(dir + "/stderr.log");
  std::string errors;
  {
    auto c = client({oa, an}, {model("gpt", "oa_keyed"), model("claude", "an_keyed")});
    ASSERT_TRUE(c);
    auto e1 = c->chat("gpt", userRequest("hi"));
    auto e2 = c->chat("claude", userRequest("hi"));
    ASSERT_FALSE(e1.ok());
    ASSERT_FALSE(e2.ok());
    errors = e1.status().toString() + "\n" + e2.status().toString();
    EXPECT_TRUE(c->chat("gpt", userRequest("again")).ok()) << "the second attempt succeeds";
  }
  capture.restore();
  log::setLevel(saved);
  std::string logs = capture.text();
  std::string metrics = testutil::exposition();
  EXPECT_EQ(server_.attempts("k1").count, 2) << "a 401 is not retried";
  // The server really echoed the keys, so redaction did the work.
  EXPECT_NE(errors.find("Incorrect API key provided: [REDACTED]"), std::string::npos) << errors;
  EXPECT_NE(logs.find("llm call failed"), std::string::npos) << logs;
  for (const std::string& secret : {oa_key, an_key, header_secret}) {
    EXPECT_EQ(errors.find(secret), std::string::npos) << errors;
    EXPECT_EQ(logs.find(secret), std::string::npos) << logs;
    EXPECT_EQ(metrics.find(secret), std::string::npos);
  }
}

}  // namespace
}  // namespace agentd::llm
