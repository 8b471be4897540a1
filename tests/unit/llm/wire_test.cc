// Wire codecs: request encoding for both APIs, whole responses, streamed responses assembled
// from canned SSE (tool-call argument deltas included), usage normalisation, error bodies.
#include "llm/wire.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/json.h"
#include "common/json_writer.h"
#include "unit/llm/llm_test_util.h"

namespace agentd::llm {
namespace {

using testutil::weatherTool;

ChatRequest conversation() {
  ChatRequest r;
  r.messages.push_back(Message::system("Be brief."));
  r.messages.push_back(Message::system("Use tools."));
  r.messages.push_back(Message::user("Weather in Paris and Rome?"));
  r.messages.push_back(
      Message::assistant("Checking.", {ToolCall{"c1", "get_weather", R"({"city":"Paris"})"},
                                       ToolCall{"c2", "get_weather", R"({"city":"Rome"})"}}));
  r.messages.push_back(Message::toolResult("c1", "sunny"));
  r.messages.push_back(Message::toolResult("c2", "city not found", true));
  r.tools.push_back(weatherTool());
  return r;
}

ModelOptions model(const char* id) {
  ModelOptions m;
  m.name = "m";
  m.model = id;
  m.max_tokens = 256;
  m.temperature = 0.5;
  m.parallel_tool_calls = false;
  return m;
}

rapidjson::Document parse(const std::string& s) {
  auto d = json::parse(s);
  EXPECT_TRUE(d.ok()) << s;
  return std::move(d).value();
}

TEST(LlmWire, OpenAiRequestEncoding) {
  auto body = openAiCodec()->encode(conversation(), model("gpt-x"), true);
  ASSERT_TRUE(body.ok()) << body.status().toString();
  auto d = parse(*body);
  EXPECT_STREQ(d["model"].GetString(), "gpt-x");
  EXPECT_EQ(d["max_tokens"].GetInt(), 256);
  EXPECT_DOUBLE_EQ(d["temperature"].GetDouble(), 0.5);
  EXPECT_FALSE(d["parallel_tool_calls"].GetBool());
  EXPECT_TRUE(d["stream"].GetBool());
  EXPECT_TRUE(d["stream_options"]["include_usage"].GetBool());
  const auto& msgs = d["messages"];
  ASSERT_EQ(msgs.Size(), 6u);
  EXPECT_STREQ(msgs[0]["role"].GetString(), "system");
  EXPECT_STREQ(msgs[3]["role"].GetString(), "assistant");
  EXPECT_STREQ(msgs[3]["content"].GetString(), "Checking.");
  EXPECT_STREQ(msgs[3]["tool_calls"][1]["id"].GetString(), "c2");
  EXPECT_STREQ(msgs[3]["tool_calls"][1]["type"].GetString(), "function");
  EXPECT_STREQ(msgs[3]["tool_calls"][1]["function"]["arguments"].GetString(), R"({"city":"Rome"})");
  EXPECT_STREQ(msgs[4]["role"].GetString(), "tool");
  EXPECT_STREQ(msgs[4]["tool_call_id"].GetString(), "c1");
  EXPECT_STREQ(msgs[5]["content"].GetString(), "ERROR: city not found");
  EXPECT_STREQ(d["tools"][0]["type"].GetString(), "function");
  EXPECT_STREQ(d["tools"][0]["function"]["name"].GetString(), "get_weather");
  EXPECT_TRUE(d["tools"][0]["function"]["parameters"]["properties"].HasMember("city"));

  auto whole = openAiCodec()->encode(conversation(), model("gpt-x"), false);
  ASSERT_TRUE(whole.ok());
  EXPECT_FALSE(parse(*whole).HasMember("stream"));
}

TEST(LlmWire, AnthropicRequestEncoding) {
  auto body = anthropicCodec()->encode(conversation(), model("claude-x"), false);
  ASSERT_TRUE(body.ok()) << body.status().toString();
  auto d = parse(*body);
  EXPECT_STREQ(d["system"].GetString(), "Be brief.\n\nUse tools.");
  const auto& msgs = d["messages"];
  ASSERT_EQ(msgs.Size(), 3u) << "system lifted out; both tool results merged into one user turn";
  EXPECT_STREQ(msgs[0]["role"].GetString(), "user");
  EXPECT_STREQ(msgs[0]["content"][0]["text"].GetString(), "Weather in Paris and Rome?");
  EXPECT_STREQ(msgs[1]["role"].GetString(), "assistant");
  EXPECT_STREQ(msgs[1]["content"][0]["type"].GetString(), "text");
  EXPECT_STREQ(msgs[1]["content"][1]["type"].GetString(), "tool_use");
  EXPECT_STREQ(msgs[1]["content"][1]["input"]["city"].GetString(), "Paris");
  EXPECT_STREQ(msgs[2]["role"].GetString(), "user");
  ASSERT_EQ(msgs[2]["content"].Size(), 2u);
  EXPECT_STREQ(msgs[2]["content"][0]["type"].GetString(), "tool_result");
  EXPECT_STREQ(msgs[2]["content"][0]["tool_use_id"].GetString(), "c1");
  EXPECT_FALSE(msgs[2]["content"][0].HasMember("is_error"));
  EXPECT_TRUE(msgs[2]["content"][1]["is_error"].GetBool());
  EXPECT_STREQ(d["tools"][0]["name"].GetString(), "get_weather");
  EXPECT_TRUE(d["tools"][0]["input_schema"].IsObject());
  EXPECT_TRUE(d["tool_choice"]["disable_parallel_tool_use"].GetBool());
  EXPECT_FALSE(d.HasMember("stream"));

  ProviderOptions p;
  p.api_key = "k";
  auto h = anthropicCodec()->headers(p);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0], (std::pair<std::string, std::string>{"x-api-key", "k"}));
  EXPECT_EQ(h[1], (std::pair<std::string, std::string>{"anthropic-version", "2023-06-01"}));
  EXPECT_EQ(openAiCodec()->headers(p)[0].second, "Bearer k");
  p.api_key.clear();
  EXPECT_TRUE(openAiCodec()->headers(p).empty()) << "keyless servers (Ollama) get no header";
}

TEST(LlmWire, InvalidJsonIsRejectedBeforeSending) {
  ChatRequest r = conversation();
  r.tools[0].parameters = "{not json";
  EXPECT_EQ(openAiCodec()->encode(r, model("x"), false).status().code(),
            Status::Code::kInvalidArgument);
  r = conversation();
  r.messages[3].tool_calls[0].arguments = "[1,2]";
  EXPECT_EQ(anthropicCodec()->encode(r, model("x"), false).status().code(),
            Status::Code::kInvalidArgument);
}

TEST(LlmWire, EmbeddedJsonErrorsSayWhatAndWhere) {
  ChatRequest r = conversation();
  r.tools[0].parameters = R"({"type":"object"} x)";
  Status trailing = openAiCodec()->encode(r, model("x"), false).status();
  EXPECT_NE(trailing.message().find("parameters: invalid JSON at offset 18"), std::string::npos)
      << trailing.message();
  r.tools[0].parameters = "[1]";
  Status array = openAiCodec()->encode(r, model("x"), false).status();
  EXPECT_NE(array.message().find("parameters: not a JSON object"), std::string::npos)
      << array.message();
  r.tools[0].parameters = " {\"type\":\"object\"}\n";  // surrounding blanks are fine
  EXPECT_TRUE(openAiCodec()->encode(r, model("x"), false).ok());
  EXPECT_TRUE(json::validate("[1, 2]").isOk());
  EXPECT_FALSE(json::validateObject("[1, 2]").isOk());
  EXPECT_EQ(json::validate("").message(), json::parse("").status().message());
  EXPECT_EQ(json::validate("\xff").message(), json::parse("\xff").status().message());
}

// The tools array a request carries: each tool's description, for either API.
std::vector<std::string> toolDescriptions(const std::string& body) {
  rapidjson::Document d = parse(body);
  std::vector<std::string> out;
  for (const auto& t : d["tools"].GetArray()) {
    const rapidjson::Value& f = t.HasMember("function") ? t["function"] : t;
    out.emplace_back(f["description"].GetString());
  }
  return out;
}

// A codec keeps the encoded tools of the lists it saw last. Whatever it keeps, each request
// carries exactly its own tools, and a tool that changed (even to an invalid schema) is encoded
// and checked afresh: for both APIs, with more lists than are kept, and from two threads at once.
TEST(LlmWire, KeptToolArraysAlwaysMatchTheRequest) {
  std::vector<std::unique_ptr<WireCodec>> codecs;
  codecs.push_back(openAiCodec());
  codecs.push_back(anthropicCodec());
  for (const auto& codec : codecs) {
    std::vector<ChatRequest> requests;
    for (int k = 0; k < 7; ++k) {
      ChatRequest r = conversation();
      r.tools[0].description = "weather, list " + std::to_string(k);
      r.tools.push_back(testutil::timeTool());
      requests.push_back(r);
    }
    std::vector<std::string> first;
    for (int round = 0; round < 2; ++round) {
      for (int k = 0; k < 7; ++k) {
        Result<std::string> body = codec->encode(requests[k], model("x"), false);
        ASSERT_TRUE(body.ok()) << body.status().message();
        EXPECT_EQ(toolDescriptions(*body),
                  (std::vector<std::string>{"weather, list " + std::to_string(k),
                                            testutil::timeTool().description}));
        if (round == 0) first.push_back(*body);
        if (round == 1) {
          EXPECT_EQ(*body, first[k]) << "the same request, the same bytes";
        }
      }
    }
    ChatRequest bad = requests[0];
    bad.tools[1].parameters = "{not json";
    EXPECT_EQ(codec->encode(bad, model("x"), false).status().code(),
              Status::Code::kInvalidArgument);
    EXPECT_EQ(codec->encode(requests[0], model("x"), false).value(), first[0]);

    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 300; ++i) {
          int k = (i * 3 + t) % 7;
          Result<std::string> body = codec->encode(requests[k], model("x"), false);
          ASSERT_TRUE(body.ok());
          EXPECT_EQ(*body, first[k]);
        }
      });
    }
    for (auto& t : threads) t.join();
  }
}

// A NUL byte would end RapidJSON's reading early ("{}\0junk" read as "{}"), and the codec copies
// a checked schema whole: JSON with one is refused everywhere, with where it is.
TEST(LlmWire, JsonWithANulByteIsRefused) {
  std::string text("{\"a\":1}\0junk", 12);
  EXPECT_EQ(json::validate(text).message(), "invalid JSON at offset 7: a NUL byte");
  EXPECT_FALSE(json::validateObject(text).isOk());
  EXPECT_FALSE(json::parse(text).ok());
  json::LocalDocument doc;
  EXPECT_FALSE(doc.parse(text).isOk());
  ChatRequest r = conversation();
  r.tools[0].parameters = text;
  Status st = openAiCodec()->encode(r, model("x"), false).status();
  EXPECT_NE(st.message().find("parameters: invalid JSON at offset 7: a NUL byte"),
            std::string::npos)
      << st.message();
  EXPECT_TRUE(json::validate(R"({"a":"\u0000"})").isOk()) << "an escaped NUL is fine";
}

TEST(LlmWire, LocalDocumentParsesAsParseDoesSmallOrLarge) {
  json::LocalDocument small;
  ASSERT_TRUE(small.parse(R"({"a":[1,"two"]})").isOk());
  EXPECT_EQ((*small)["a"][1].GetString(), std::string("two"));
  // Past its 4 KiB on the stack, values go on to the heap.
  std::string big = "[";
  for (int i = 0; i < 2000; ++i) big += (i ? ",\"" : "\"") + std::to_string(i) + "\"";
  big += "]";
  json::LocalDocument large;
  ASSERT_TRUE(large.parse(big).isOk());
  ASSERT_EQ(large->Size(), 2000u);
  EXPECT_EQ((*large)[1999].GetString(), std::string("1999"));
  json::LocalDocument bad;
  EXPECT_EQ(bad.parse("{\"a\":").message(), json::parse("{\"a\":").status().message());
  EXPECT_EQ(bad.parse("\xff").message(), json::parse("\xff").status().message());
}

// Every string value of v, at any depth.
void strings(const rapidjson::Value& v, std::vector<std::string>* out) {
  if (v.IsString()) out->emplace_back(v.GetString(), v.GetStringLength());
  if (v.IsArray())
    for (const auto& e : v.GetArray()) strings(e, out);
  if (v.IsObject())
    for (const auto& m : v.GetObject()) strings(m.value, out);
}

// Text that escapes to six bytes a character outgrows the codec's size estimate: the output
// grows past it, for both APIs, and both texts come back whole.
TEST(LlmWire, RequestsLargerThanTheSizeEstimateEncodeWhole) {
  std::string controls(20000, '\x01');
  std::string text = "a\"b\\c\n" + std::string(70000, 'x') + controls + "\xc3\xa9";
  ChatRequest r;
  r.messages.push_back(Message::user(text));
  r.messages.push_back(Message::toolResult("c1", controls));
  for (auto& codec : {openAiCodec(), anthropicCodec()}) {
    Result<std::string> body = codec->encode(r, model("x"), false);
    ASSERT_TRUE(body.ok());
    EXPECT_GT(body->size(), 6 * 2 * controls.size());
    std::vector<std::string> found;
    strings(parse(*body), &found);
    EXPECT_EQ(std::count(found.begin(), found.end(), text), 1);
    EXPECT_EQ(std::count(found.begin(), found.end(), controls), 1);
  }
}

// The output stream itself: any hint, any number of growths, the same text as RapidJSON's own
// buffer, and empty after take().
TEST(LlmWire, StringOutputWritesWhatStringBufferWrites) {
  rapidjson::Document d = parse(R"({"a":[1,2.5,"x\u0001y",null,true,{"k":"\u00e9"}],"b":""})");
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> ws(sb);
  d.Accept(ws);
  for (size_t hint : {0, 1, 16, 17, 1000}) {
    json::StringOutput os(hint);
    rapidjson::Writer<json::StringOutput> w(os);
    d.Accept(w);
    EXPECT_EQ(os.take(), std::string(sb.GetString(), sb.GetSize())) << hint;
    EXPECT_EQ(os.take(), "");
    // Whole text, before and after characters, past the hint and after a take().
    os.append(std::string(100, 'a'));
    os.Put('b');
    os.append("");
    os.append("cd");
    EXPECT_EQ(os.take(), std::string(100, 'a') + "bcd") << hint;
  }
}

TEST(LlmWire, OpenAiWholeResponse) {
  auto r = openAiCodec()->decode(R"({"id":"x1","model":"gpt-x","choices":[{"index":0,
    "message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
    "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
    "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":30,"completion_tokens":7,
    "prompt_tokens_details":{"cached_tokens":20}}})");
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->id, "x1");
  EXPECT_EQ(r->content, "");
  ASSERT_EQ(r->tool_calls.size(), 1u);
  EXPECT_EQ(r->tool_calls[0], (ToolCall{"call_1", "get_weather", R"({"city":"Paris"})"}));
  EXPECT_EQ(r->finish_reason, FinishReason::kToolCalls);
  EXPECT_EQ(r->usage, (Usage{30, 7, 20, 0}));
  EXPECT_FALSE(openAiCodec()->decode(R"({"choices":[)").ok());
  EXPECT_FALSE(openAiCodec()->decode(R"({"choices":[]})").ok());
}

TEST(LlmWire, AnthropicWholeResponseNormalisesUsage) {
  auto r = anthropicCodec()->decode(R"({"id":"msg_1","type":"message","model":"claude-x",
    "content":[{"type":"text","text":"Let me look."},{"type":"tool_use","id":"toolu_1",
    "name":"get_weather","input":{"city":"Rome"}}],"stop_reason":"tool_use",
    "usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":100,
    "cache_creation_input_tokens":3}})");
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->content, "Let me look.");
  EXPECT_EQ(r->tool_calls[0], (ToolCall{"toolu_1", "get_weather", R"({"city":"Rome"})"}));
  EXPECT_EQ(r->finish_reason, FinishReason::kToolCalls);
  EXPECT_EQ(r->finish_reason_raw, "tool_use");
  EXPECT_EQ(r->usage, (Usage{113, 5, 100, 3})) << "input includes cached input";
}

struct Collected {
  std::string text;
  std::vector<StreamDelta> deltas;
};

std::optional<StreamError> feed(StreamDecoder& d, const std::string& sse, Collected* out) {
  SseParser p;
  std::optional<StreamError> err;
  StreamCallback emit = [&](const StreamDelta& x) {
    out->deltas.push_back(x);
    if (x.kind == StreamDelta::Kind::kText) out->text += x.text;
  };
  p.feed(sse, [&](const SseEvent& ev) {
    err = d.onEvent(ev, emit);
    return !err;
  });
  return err;
}

TEST(LlmWire, OpenAiStreamAssemblesParallelToolCalls) {
  const std::string sse =
      R"(data: {"id":"s1","model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}

data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}

data: {"choices":[{"index":0,"delta":{"content":"lo"}}]}

data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}

data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{\"ci"}}]}}]}

data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]}

data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}}]}

data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"ty\":\"Rome\"}"}}]}}]}

data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":9,"prompt_tokens_details":{"cached_tokens":4}}}

data: [DONE]

)";
  auto d = openAiCodec()->streamDecoder();
  Collected c;
  EXPECT_FALSE(feed(*d, sse, &c));
  ASSERT_TRUE(d->complete());
  ChatResponse r = d->finish();
  EXPECT_EQ(c.text, "Hello");
  EXPECT_EQ(r.content, "Hello");
  EXPECT_EQ(r.id, "s1");
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0], (ToolCall{"call_a", "get_weather", R"({"city":"Paris"})"}));
  EXPECT_EQ(r.tool_calls[1], (ToolCall{"call_b", "get_time", R"({"city":"Rome"})"}));
  EXPECT_EQ(r.finish_reason, FinishReason::kToolCalls);
  EXPECT_EQ(r.usage, (Usage{12, 9, 4, 0}));
  int starts = 0, args = 0;
  for (const auto& x : c.deltas) {
    starts += x.kind == StreamDelta::Kind::kToolCallStart;
    args += x.kind == StreamDelta::Kind::kToolCallArguments;
  }
  EXPECT_EQ(starts, 2);
  EXPECT_EQ(args, 4);
}

TEST(LlmWire, OpenAiStreamWithoutEndMarkerIsIncompleteAndBadChunkIsAnError) {
  auto d = openAiCodec()->streamDecoder();
  Collected c;
  EXPECT_FALSE(
      feed(*d, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n", &c));
  EXPECT_FALSE(d->complete());
  auto err = feed(*d, "data: {oops\n\n", &c);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->equivalent_http_status, 0);
}

TEST(LlmWire, AnthropicStreamTextAndToolUse) {
  const std::string sse = R"(event: message_start
data: {"type":"message_start","message":{"id":"msg_s","model":"claude-x","usage":{"input_tokens":20,"output_tokens":1,"cache_read_input_tokens":5,"cache_creation_input_tokens":2}}}

event: ping
data: {"type":"ping"}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"On it"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_9","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Os"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"lo\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_10","name":"get_time","input":{}}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":15}}

event: message_stop
data: {"type":"message_stop"}

)";
  auto d = anthropicCodec()->streamDecoder();
  Collected c;
  EXPECT_FALSE(feed(*d, sse, &c));
  ASSERT_TRUE(d->complete());
  ChatResponse r = d->finish();
  EXPECT_EQ(r.content, "On it");
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0], (ToolCall{"toolu_9", "get_weather", R"({"city": "Oslo"})"}));
  EXPECT_EQ(r.tool_calls[1], (ToolCall{"toolu_10", "get_time", "{}"})) << "no input deltas: {}";
  EXPECT_EQ(r.finish_reason, FinishReason::kToolCalls);
  EXPECT_EQ(r.usage, (Usage{27, 15, 5, 2}));
  EXPECT_EQ(c.deltas[1].kind, StreamDelta::Kind::kToolCallStart);
  EXPECT_EQ(c.deltas[1].index, 0) << "tool call ordinal, not content block index";
  EXPECT_EQ(c.deltas[2].index, 0);
}

TEST(LlmWire, AnthropicErrorEventCarriesEquivalentStatus) {
  auto d = anthropicCodec()->streamDecoder();
  Collected c;
  auto err =
      feed(*d,
           "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
           "\"message\":\"Overloaded\"}}\n\n",
           &c);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->equivalent_http_status, 529);
  EXPECT_NE(err->status.message().find("Overloaded"), std::string::npos);
}

TEST(LlmWire, ErrorMessages) {
  EXPECT_EQ(
      errorMessageFromBody(R"({"error":{"message":"bad key","type":"invalid_request_error"}})"),
      "invalid_request_error: bad key");
  EXPECT_EQ(errorMessageFromBody(
                R"({"type":"error","error":{"type":"overloaded_error","message":"busy"}})"),
            "overloaded_error: busy");
  EXPECT_EQ(errorMessageFromBody("<html>\nBad Gateway</html>"), "<html> Bad Gateway</html>");
}

TEST(LlmWire, FinishReasons) {
  EXPECT_EQ(finishReasonFromOpenAi("length"), FinishReason::kLength);
  EXPECT_EQ(finishReasonFromOpenAi("content_filter"), FinishReason::kContentFilter);
  EXPECT_EQ(finishReasonFromAnthropic("end_turn"), FinishReason::kStop);
  EXPECT_EQ(finishReasonFromAnthropic("max_tokens"), FinishReason::kLength);
  EXPECT_EQ(finishReasonFromAnthropic("refusal"), FinishReason::kContentFilter);
  EXPECT_EQ(finishReasonFromAnthropic("pause_turn"), FinishReason::kOther);
}

}  // namespace
}  // namespace agentd::llm
