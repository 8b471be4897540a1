// The MCP client library's pure parts: SSE parsing, elicitation answers, tool result mapping,
// the adapter config and ${ENV} expansion.
#include <gtest/gtest.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "client.h"
#include "json_util.h"
#include "server.h"
#include "sse.h"
#include "stdio_transport.h"

namespace agentd::mcp {
namespace {

std::vector<SseEvent> feedAll(SseParser& p, const std::vector<std::string>& chunks) {
  std::vector<SseEvent> out;
  for (const auto& c : chunks) p.feed(c, [&](const SseEvent& e) { out.push_back(e); });
  return out;
}

TEST(McpSse, EventsSurviveAnySplitAndLineEnding) {
  std::string stream =
      "id: e1\r\nretry: 500\r\ndata: \r\n\r\n"  // priming event: no data delivered
      ": a comment\n"
      "event: message\nid: e2\ndata: {\"a\":\n bogus: line\ndata: 1}\n\n"
      "data: x\rdata: y\r\r";
  // Every split point gives the same events.
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    SseParser p;
    auto events = feedAll(p, {stream.substr(0, cut), stream.substr(cut)});
    ASSERT_EQ(events.size(), 2u) << "cut at " << cut;
    EXPECT_EQ(events[0].type, "message");
    EXPECT_EQ(events[0].data, "{\"a\":\n1}");
    EXPECT_EQ(events[0].id, "e2");
    EXPECT_EQ(events[1].data, "x\ny");
    EXPECT_EQ(p.lastEventId(), "e2");
    ASSERT_TRUE(p.retryMs().has_value());
    EXPECT_EQ(*p.retryMs(), 500);
  }
}

TEST(McpSse, PrimingEventUpdatesLastEventIdOnly) {
  SseParser p;
  auto events = feedAll(p, {"id: event-1\nretry: 500\ndata: \n\n"});
  EXPECT_TRUE(events.empty());
  EXPECT_TRUE(p.sawEventId());
  EXPECT_EQ(p.lastEventId(), "event-1");
}

TEST(McpSse, IgnoresInvalidRetry) {
  SseParser p;
  feedAll(p, {"retry: soon\n\n"});
  EXPECT_FALSE(p.retryMs().has_value());
}

rapidjson::Document doc(const std::string& s) {
  auto d = json::parse(s);
  EXPECT_TRUE(d.ok()) << s;
  return std::move(*d);
}

TEST(McpElicitation, AcceptsWithSchemaDefaults) {
  auto params = doc(R"({"message":"m","requestedSchema":{"type":"object","properties":{
      "name":{"type":"string","default":"John Doe"},"age":{"type":"integer","default":30},
      "score":{"type":"number","default":95.5},
      "status":{"type":"string","enum":["active","inactive"],"default":"active"},
      "verified":{"type":"boolean","default":true}},"required":[]}})");
  auto answer = doc(answerElicitation(params, ElicitationPolicy::kDefaults));
  EXPECT_EQ(json::getString(answer, "action"), "accept");
  const auto& c = answer["content"];
  EXPECT_EQ(json::getString(c, "name"), "John Doe");
  EXPECT_EQ(c["age"].GetInt(), 30);
  EXPECT_DOUBLE_EQ(c["score"].GetDouble(), 95.5);
  EXPECT_EQ(json::getString(c, "status"), "active");
  EXPECT_TRUE(c["verified"].GetBool());
}

TEST(McpElicitation, DeclinesWithoutDefaultsForRequiredFieldsOrByPolicy) {
  auto missing = doc(R"({"requestedSchema":{"type":"object","properties":{
      "a":{"type":"string","default":"x"},"b":{"type":"string"}},"required":["b"]}})");
  EXPECT_EQ(answerElicitation(missing, ElicitationPolicy::kDefaults), R"({"action":"decline"})");
  auto none = doc(R"({"requestedSchema":{"type":"object","properties":{}}})");
  EXPECT_EQ(answerElicitation(none, ElicitationPolicy::kDefaults), R"({"action":"decline"})");
  auto url = doc(R"({"mode":"url","url":"https://example.invalid","elicitationId":"1"})");
  EXPECT_EQ(answerElicitation(url, ElicitationPolicy::kDefaults), R"({"action":"decline"})");
  auto full = doc(R"({"requestedSchema":{"properties":{"a":{"default":"x"}},"required":["a"]}})");
  EXPECT_EQ(answerElicitation(full, ElicitationPolicy::kDecline), R"({"action":"decline"})");
}

TEST(McpToolResult, TextBlocksBecomeText) {
  auto r = mapToolResult(
      doc(R"({"content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]})"));
  EXPECT_FALSE(r.is_error);
  EXPECT_FALSE(r.is_json);
  EXPECT_EQ(r.output, "one\ntwo");
}

TEST(McpToolResult, ImagesLinksAndStructuredContentBecomeJson) {
  auto r = mapToolResult(doc(R"({"content":[{"type":"text","text":"t"},
      {"type":"image","data":"AAAA","mimeType":"image/png"},
      {"type":"resource_link","uri":"demo://x","name":"x"}],
      "structuredContent":{"temperature":22}})"));
  EXPECT_TRUE(r.is_json);
  auto out = doc(r.output);
  ASSERT_TRUE(out["content"].IsArray());
  EXPECT_EQ(out["content"].Size(), 3u);
  EXPECT_EQ(json::getString(out["content"][1], "mimeType"), "image/png");
  EXPECT_EQ(json::getString(out["content"][2], "uri"), "demo://x");
  EXPECT_EQ(out["structuredContent"]["temperature"].GetInt(), 22);
}

TEST(McpToolResult, IsErrorIsKept) {
  auto r = mapToolResult(doc(R"({"isError":true,"content":[{"type":"text","text":"bad"}]})"));
  EXPECT_TRUE(r.is_error);
  EXPECT_EQ(r.output, "bad");
}

TEST(McpConfig, ParsesServersWithDefaults) {
  auto specs = parseConfig(R"({"servers":{
      "fs":{"command":"npx","args":["-y","pkg"],"env":{"A":"1"},"cwd":"/tmp","required":true,
            "allow":["read_*"],"deny":["read_secret"]},
      "web":{"url":"http://127.0.0.1:1/mcp","headers":{"X":"y"},"timeout_seconds":5}}})");
  ASSERT_TRUE(specs.ok()) << specs.status().message();
  ASSERT_EQ(specs->size(), 2u);
  const ServerSpec& fs = specs->at("fs");
  EXPECT_EQ(fs.command, "npx");
  EXPECT_EQ(fs.args, (std::vector<std::string>{"-y", "pkg"}));
  EXPECT_EQ(fs.env.at("A"), "1");
  EXPECT_TRUE(fs.required);
  EXPECT_EQ(fs.timeout_seconds, 60);
  EXPECT_TRUE(fs.exposes("read_file"));
  EXPECT_FALSE(fs.exposes("read_secret"));
  EXPECT_FALSE(fs.exposes("write_file"));
  const ServerSpec& web = specs->at("web");
  EXPECT_EQ(web.timeout_seconds, 5);
  EXPECT_EQ(web.headers.at("X"), "y");
  EXPECT_TRUE(web.exposes("anything"));
  EXPECT_TRUE(parseConfig("{}").ok());
}

TEST(McpConfig, RejectsWithTheKeyPath) {
  auto message = [](const std::string& cfg) {
    auto r = parseConfig(cfg);
    EXPECT_FALSE(r.ok()) << cfg;
    return r.ok() ? std::string() : r.status().message();
  };
  EXPECT_EQ(message(R"({"servers":{"a":{"command":"x","colour":1}}})"),
            "servers.a.colour: unknown key");
  EXPECT_NE(message(R"({"servers":{"a":{}}})").find("either command"), std::string::npos);
  EXPECT_NE(message(R"({"servers":{"a":{"command":"x","url":"http://h"}}})").find("either"),
            std::string::npos);
  EXPECT_NE(message(R"({"servers":{"a__b":{"command":"x"}}})").find("servers.a__b"),
            std::string::npos);
  EXPECT_NE(message(R"({"servers":{"a":{"url":"ftp://h"}}})").find("servers.a.url"),
            std::string::npos);
  EXPECT_NE(
      message(R"({"servers":{"a":{"command":"x","timeout_seconds":0}}})").find("timeout_seconds"),
      std::string::npos);
  EXPECT_EQ(message(R"({"server":{}})"), "server: unknown key");
  EXPECT_NE(message("not json").find("invalid JSON"), std::string::npos);
}

TEST(McpConfig, HeadersExpandEnvironmentReferences) {
  setenv("AGENTD_MCP_TEST_TOKEN", "s3cret", 1);
  auto specs = parseConfig(
      R"({"servers":{"w":{"url":"http://h/mcp","headers":{"Authorization":"Bearer ${AGENTD_MCP_TEST_TOKEN}"}}}})");
  ASSERT_TRUE(specs.ok()) << specs.status().message();
  EXPECT_EQ(specs->at("w").headers.at("Authorization"), "Bearer s3cret");
  auto unset = parseConfig(
      R"({"servers":{"w":{"url":"http://h/mcp","headers":{"A":"${AGENTD_MCP_TEST_UNSET_VAR}"}}}})");
  ASSERT_FALSE(unset.ok());
  EXPECT_NE(unset.status().message().find("AGENTD_MCP_TEST_UNSET_VAR is not set"),
            std::string::npos);
}

TEST(McpConfig, SchemaIsJson) {
  auto schema = json::parse(configSchema());
  ASSERT_TRUE(schema.ok());
  EXPECT_TRUE((*schema)["properties"].HasMember("servers"));
}

TEST(McpClient, UnstartableCommandFailsToConnect) {
  StdioOptions o;
  o.command = "/nonexistent/agentd-mcp-server";
  Client c(std::make_unique<StdioTransport>(o), ClientOptions());
  Status st = c.connect(std::chrono::milliseconds(2000));
  EXPECT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("cannot start"), std::string::npos) << st.message();
}

TEST(McpClient, ServerThatExitsFailsConnectQuickly) {
  StdioOptions o;
  o.command = "/bin/sh";
  o.args = {"-c", "echo starting >&2; exit 3"};
  std::vector<std::string> logs;
  std::mutex mu;
  ClientOptions co;
  co.log = [&](LogLevel, std::string_view m) {
    std::lock_guard<std::mutex> lock(mu);
    logs.emplace_back(m);
  };
  Client c(std::make_unique<StdioTransport>(o), co);
  auto t0 = std::chrono::steady_clock::now();
  Status st = c.connect(std::chrono::milliseconds(10000));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_NE(st.message().find("exited with code 3"), std::string::npos) << st.message();
  c.close();
  std::lock_guard<std::mutex> lock(mu);
  bool saw = false;
  for (const auto& l : logs) saw = saw || l == "stderr: starting";
  EXPECT_TRUE(saw) << "the server's stderr goes to the log";
}

}  // namespace
}  // namespace agentd::mcp
