// Canonical request identity and the response JSON form.
#include "llm/canonical.h"

#include <gtest/gtest.h>

#include "common/json.h"
#include "unit/llm/llm_test_util.h"

namespace agentd::llm {
namespace {

ModelOptions model() {
  ModelOptions m;
  m.name = "m";
  m.model = "gpt-x";
  return m;
}

ChatRequest withCall(const std::string& args) {
  ChatRequest r = testutil::userRequest("hi");
  r.messages.push_back(Message::assistant("", {ToolCall{"c1", "t", args}}));
  r.messages.push_back(Message::toolResult("c1", "ok"));
  r.tools.push_back(testutil::weatherTool());
  return r;
}

TEST(LlmCanonical, KeyOrderAndWhitespaceDoNotMatter) {
  EXPECT_EQ(requestHash(withCall(R"({"b":1,"a":{"y":2,"x":1}})"), model()),
            requestHash(withCall(R"({ "a": {"x":1, "y":2}, "b": 1 })"), model()));
  EXPECT_EQ(canonicalJson(R"({"b":[{"d":1,"c":2}],"a":null})"),
            R"({"a":null,"b":[{"c":2,"d":1}]})");
  EXPECT_EQ(canonicalJson("not json"), R"("not json")");
}

TEST(LlmCanonical, EverythingTheModelSeesChangesTheHash) {
  ChatRequest base = testutil::userRequest("hi");
  std::string h = requestHash(base, model());
  EXPECT_EQ(h.size(), 64u);
  ChatRequest other = testutil::userRequest("hi!");
  EXPECT_NE(requestHash(other, model()), h);
  ModelOptions m = model();
  m.temperature = 0.2;
  EXPECT_NE(requestHash(base, m), h);
  m = model();
  m.max_tokens = 10;
  EXPECT_NE(requestHash(base, m), h);
  ChatRequest tools = base;
  tools.tools.push_back(testutil::weatherTool());
  EXPECT_NE(requestHash(tools, model()), h);
  ChatRequest err = withCall("{}");
  ChatRequest err2 = err;
  err2.messages.back().is_error = true;
  EXPECT_NE(requestHash(err, model()), requestHash(err2, model()));
  EXPECT_TRUE(json::validate(canonicalRequest(err, model())).isOk());
}

TEST(LlmCanonical, ResponseRoundTrip) {
  ChatResponse r;
  r.id = "x";
  r.content = "text";
  r.tool_calls = {ToolCall{"c1", "get_weather", R"({"city":"Paris"})"}};
  r.finish_reason = FinishReason::kToolCalls;
  r.model = "gpt-x";
  r.usage = Usage{10, 5, 2, 1};
  auto doc = json::parse(responseToJson(r));
  ASSERT_TRUE(doc.ok());
  auto back = responseFromJson(*doc);
  ASSERT_TRUE(back.ok()) << back.status().toString();
  EXPECT_EQ(back->content, "text");
  EXPECT_EQ(back->tool_calls, r.tool_calls);
  EXPECT_EQ(back->finish_reason, FinishReason::kToolCalls);
  EXPECT_EQ(back->usage, r.usage);
  EXPECT_EQ(back->model, "gpt-x");
}

}  // namespace
}  // namespace agentd::llm
