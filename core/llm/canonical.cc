#include "llm/canonical.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <vector>

#include "common/json.h"
#include "common/json_writer.h"
#include "common/sha256.h"

namespace agentd::llm {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
using rapidjson::Value;

void writeSorted(Writer& w, const Value& v) {
  if (v.IsObject()) {
    std::vector<const Value::Member*> members;
    for (const auto& m : v.GetObject()) members.push_back(&m);
    std::sort(members.begin(), members.end(), [](const Value::Member* a, const Value::Member* b) {
      return std::string_view(a->name.GetString(), a->name.GetStringLength()) <
             std::string_view(b->name.GetString(), b->name.GetStringLength());
    });
    w.StartObject();
    for (const auto* m : members) {
      w.Key(m->name.GetString(), m->name.GetStringLength());
      writeSorted(w, m->value);
    }
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    for (const auto& e : v.GetArray()) writeSorted(w, e);
    w.EndArray();
  } else {
    v.Accept(w);
  }
}

void writeCanonical(Writer& w, std::string_view text) {
  if (text.empty()) text = "{}";
  auto doc = json::parse(text);
  if (doc.ok()) {
    writeSorted(w, *doc);
  } else {
    json::writeString(w, text);
  }
}

std::string getString(const Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

int64_t getInt(const Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsNumber()) return 0;
  return it->value.IsInt64() ? it->value.GetInt64() : static_cast<int64_t>(it->value.GetDouble());
}

}  // namespace

std::string canonicalJson(std::string_view text) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  auto doc = json::parse(text);
  if (doc.ok()) {
    writeSorted(w, *doc);
  } else {
    json::writeString(w, text);
  }
  return std::string(buf.GetString(), buf.GetSize());
}

std::string canonicalRequest(const ChatRequest& req, const ModelOptions& model) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  // Keys in sorted order at every level.
  w.StartObject();
  json::writeKey(w, "max_tokens");
  w.Int(req.max_tokens.value_or(model.max_tokens));
  json::writeKey(w, "messages");
  w.StartArray();
  for (const Message& m : req.messages) {
    w.StartObject();
    json::writeKey(w, "content");
    json::writeString(w, m.content);
    if (m.role == Role::kTool) {
      json::writeKey(w, "is_error");
      w.Bool(m.is_error);
    }
    json::writeKey(w, "role");
    json::writeString(w, roleName(m.role));
    if (m.role == Role::kTool) {
      json::writeKey(w, "tool_call_id");
      json::writeString(w, m.tool_call_id);
    }
    if (!m.tool_calls.empty()) {
      json::writeKey(w, "tool_calls");
      w.StartArray();
      for (const ToolCall& c : m.tool_calls) {
        w.StartObject();
        json::writeKey(w, "arguments");
        writeCanonical(w, c.arguments);
        json::writeKey(w, "id");
        json::writeString(w, c.id);
        json::writeKey(w, "name");
        json::writeString(w, c.name);
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
  json::writeKey(w, "model");
  json::writeString(w, model.model);
  json::writeKey(w, "parallel_tool_calls");
  if (model.parallel_tool_calls) {
    w.Bool(*model.parallel_tool_calls);
  } else {
    w.Null();
  }
  json::writeKey(w, "temperature");
  if (auto t = req.temperature ? req.temperature : model.temperature) {
    w.Double(*t);
  } else {
    w.Null();
  }
  json::writeKey(w, "tools");
  w.StartArray();
  for (const ToolDefinition& t : req.tools) {
    w.StartObject();
    json::writeKey(w, "description");
    json::writeString(w, t.description);
    json::writeKey(w, "name");
    json::writeString(w, t.name);
    json::writeKey(w, "parameters");
    writeCanonical(w, t.parameters);
    w.EndObject();
  }
  w.EndArray();
  json::writeKey(w, "top_p");
  if (model.top_p) {
    w.Double(*model.top_p);
  } else {
    w.Null();
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string requestHash(const ChatRequest& request, const ModelOptions& model) {
  return sha256Hex(canonicalRequest(request, model));
}

std::string responseToJson(const ChatResponse& r) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  json::writeKey(w, "id");
  json::writeString(w, r.id);
  json::writeKey(w, "content");
  json::writeString(w, r.content);
  json::writeKey(w, "tool_calls");
  w.StartArray();
  for (const ToolCall& c : r.tool_calls) {
    w.StartObject();
    json::writeKey(w, "id");
    json::writeString(w, c.id);
    json::writeKey(w, "name");
    json::writeString(w, c.name);
    json::writeKey(w, "arguments");
    writeCanonical(w, c.arguments);
    w.EndObject();
  }
  w.EndArray();
  json::writeKey(w, "finish_reason");
  json::writeString(w, finishReasonName(r.finish_reason));
  json::writeKey(w, "model");
  json::writeString(w, r.model);
  json::writeKey(w, "usage");
  w.StartObject();
  json::writeKey(w, "input_tokens");
  w.Int64(r.usage.input_tokens);
  json::writeKey(w, "output_tokens");
  w.Int64(r.usage.output_tokens);
  json::writeKey(w, "cache_read_tokens");
  w.Int64(r.usage.cache_read_tokens);
  json::writeKey(w, "cache_creation_tokens");
  w.Int64(r.usage.cache_creation_tokens);
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<ChatResponse> responseFromJson(const Value& v) {
  if (!v.IsObject()) return Status::invalidArgument("a response must be a JSON object");
  ChatResponse r;
  r.id = getString(v, "id");
  r.content = getString(v, "content");
  r.model = getString(v, "model");
  std::string fr = getString(v, "finish_reason");
  if (auto it = v.FindMember("tool_calls"); it != v.MemberEnd()) {
    if (!it->value.IsArray()) return Status::invalidArgument("tool_calls must be an array");
    int n = 0;
    for (const Value& c : it->value.GetArray()) {
      if (!c.IsObject()) return Status::invalidArgument("a tool call must be an object");
      ToolCall call;
      call.id = getString(c, "id");
      call.name = getString(c, "name");
      if (call.name.empty()) return Status::invalidArgument("a tool call needs a name");
      if (call.id.empty()) call.id = "call_" + std::to_string(n);
      auto a = c.FindMember("arguments");
      if (a == c.MemberEnd()) {
        call.arguments = "{}";
      } else if (a->value.IsString()) {
        call.arguments = std::string(a->value.GetString(), a->value.GetStringLength());
      } else if (a->value.IsObject()) {
        call.arguments = json::write(a->value);
      } else {
        return Status::invalidArgument("tool call arguments must be an object or a string");
      }
      r.tool_calls.push_back(std::move(call));
      ++n;
    }
  }
  if (fr.empty()) fr = r.tool_calls.empty() ? "stop" : "tool_calls";
  r.finish_reason_raw = fr;
  if (fr == "stop") {
    r.finish_reason = FinishReason::kStop;
  } else if (fr == "length") {
    r.finish_reason = FinishReason::kLength;
  } else if (fr == "tool_calls") {
    r.finish_reason = FinishReason::kToolCalls;
  } else if (fr == "content_filter") {
    r.finish_reason = FinishReason::kContentFilter;
  } else {
    r.finish_reason = FinishReason::kOther;
  }
  if (auto it = v.FindMember("usage"); it != v.MemberEnd() && it->value.IsObject()) {
    r.usage.input_tokens = getInt(it->value, "input_tokens");
    r.usage.output_tokens = getInt(it->value, "output_tokens");
    r.usage.cache_read_tokens = getInt(it->value, "cache_read_tokens");
    r.usage.cache_creation_tokens = getInt(it->value, "cache_creation_tokens");
  }
  return r;
}

}  // namespace agentd::llm
