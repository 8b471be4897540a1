// Record/replay: a recording provider writes JSON-lines cassettes; the replay provider answers
// from them by request hash, in any order, streaming included, and fails clearly on a miss.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/json.h"
#include "common/sha256.h"
#include "llm/canonical.h"
#include "llm/client.h"
#include "llm/provider.h"
#include "support/subprocess.h"
#include "unit/llm/llm_test_util.h"

namespace agentd::llm {
namespace {

using agentd::testing::freshDir;
using agentd::testing::writeFile;

std::vector<std::string> lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

ModelOptions modelFor(const std::string& provider) {
  ModelOptions m;
  m.name = "m";
  m.provider = provider;
  m.model = "model-id";
  return m;
}

TEST(LlmReplay, RecordThenReplayByRequestHash) {
  std::string dir = freshDir("replay");
  writeFile(dir + "/script.jsonl",
            R"({"content":"first answer","usage":{"input_tokens":3,"output_tokens":2}})"
            "\n"
            R"({"tool_calls":[{"id":"call_7","name":"t","arguments":{"x":1}}]})"
            "\n");
  ProviderOptions rec;
  rec.name = "live";
  rec.type = "scripted";
  rec.script_path = dir + "/script.jsonl";
  rec.record_path = dir + "/cassette.jsonl";
  ChatRequest q1 = testutil::userRequest("question one");
  ChatRequest q2 = testutil::userRequest("question two");
  q2.tools.push_back(testutil::weatherTool());
  {
    auto client = LlmClient::create({rec}, {modelFor("live")});
    ASSERT_TRUE(client.ok()) << client.status().toString();
    ASSERT_TRUE((*client)->chat("m", q1).ok());
    ASSERT_TRUE((*client)->chat("m", q2).ok());
  }
  auto recorded = lines(dir + "/cassette.jsonl");
  ASSERT_EQ(recorded.size(), 2u);
  auto first = json::parse(recorded[0]);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(std::string((*first)["hash"].GetString()), requestHash(q1, modelFor("live")));
  EXPECT_EQ(std::string((*first)["hash"].GetString()), sha256Hex(json::write((*first)["request"])))
      << "the hash is the SHA-256 of the canonical request stored beside it";
  EXPECT_STREQ((*first)["provider"].GetString(), "live");

  ProviderOptions rep;
  rep.name = "tape";
  rep.type = "replay";
  rep.cassette_path = dir + "/cassette.jsonl";
  auto client = LlmClient::create({rep}, {modelFor("tape")});
  ASSERT_TRUE(client.ok()) << client.status().toString();
  std::string streamed;
  CallOptions o;
  o.on_delta = [&](const StreamDelta& d) { streamed += d.text; };
  auto a2 = (*client)->chat("m", q2, o);
  ASSERT_TRUE(a2.ok()) << a2.status().toString();
  ASSERT_EQ(a2->tool_calls.size(), 1u);
  EXPECT_EQ(a2->tool_calls[0], (ToolCall{"call_7", "t", R"({"x":1})"}));
  EXPECT_EQ(streamed, R"({"x":1})");
  EXPECT_EQ(a2->provider, "tape");
  auto a1 = (*client)->chat("m", q1);
  ASSERT_TRUE(a1.ok());
  EXPECT_EQ(a1->content, "first answer");
  EXPECT_EQ(a1->usage.output_tokens, 2);
  EXPECT_EQ((*client)->chat("m", q1)->content, "first answer") << "the last answer repeats";

  auto miss = (*client)->chat("m", testutil::userRequest("never recorded"));
  ASSERT_EQ(miss.status().code(), Status::Code::kNotFound);
  const std::string& msg = miss.status().message();
  EXPECT_NE(msg.find(requestHash(testutil::userRequest("never recorded"), modelFor("tape"))),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("cassette.jsonl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("never recorded"), std::string::npos) << msg;
}

TEST(LlmReplay, HandWrittenEntriesAndParseErrors) {
  ModelOptions m = modelFor("tape");
  ChatRequest q = testutil::userRequest("hi");
  std::string entry =
      R"({"request":)" + canonicalRequest(q, m) + R"(,"response":{"content":"hand written"}})";
  std::string dir = freshDir("replay-hand");
  writeFile(dir + "/c.jsonl", entry + "\n");
  ProviderOptions rep;
  rep.name = "tape";
  rep.type = "replay";
  rep.cassette_path = dir + "/c.jsonl";
  auto client = LlmClient::create({rep}, {m});
  ASSERT_TRUE(client.ok()) << client.status().toString();
  EXPECT_EQ((*client)->chat("m", q)->content, "hand written");

  auto bad = parseCassette(entry + "\n{\"hash\":\"x\"}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos) << bad.status().message();
  rep.cassette_path = dir + "/missing.jsonl";
  EXPECT_FALSE(LlmClient::create({rep}, {m}).ok());
}

}  // namespace
}  // namespace agentd::llm
