#include "llm/wire.h"

#include <rapidjson/writer.h>

#include <list>
#include <map>
#include <memory>
#include <mutex>

#include "common/json.h"
#include "common/json_writer.h"

namespace agentd::llm {
namespace {

// RapidJSON's writer over a StringOutput, which also takes JSON text whole.
class Writer : public rapidjson::Writer<json::StringOutput> {
 public:
  explicit Writer(json::StringOutput& os) : rapidjson::Writer<json::StringOutput>(os) {}
  // Writes `text` as the next value. REQUIRES: text is one valid JSON value of the given type.
  // The writer places the separator (a raw value of no characters: it buffers nothing), then
  // the text goes into the stream with one copy (RawValue copies a character at a time).
  void raw(std::string_view text, rapidjson::Type type) {
    RawValue("", 0, type);
    os_->append(text);
  }
};

// About how long a request's JSON is (the text it carries plus room for the syntax), so that
// encoding writes into one allocation.
size_t toolsSizeHint(const std::vector<ToolDefinition>& tools) {
  size_t n = 16;
  for (const ToolDefinition& t : tools) {
    n += 96 + t.name.size() + t.description.size() + t.parameters.size();
  }
  return n + n / 8;
}

size_t encodedSizeHint(const ChatRequest& req) {
  size_t n = 512;
  for (const Message& m : req.messages) {
    n += 64 + m.content.size() + m.tool_call_id.size();
    for (const ToolCall& c : m.tool_calls)
      n += 96 + c.id.size() + c.name.size() + c.arguments.size();
  }
  return n + n / 8 + toolsSizeHint(req.tools);
}
using rapidjson::Value;

// Writes JSON text as a value; "" counts as {}. Fails when the text is not one JSON object.
// Checked by a SAX pass (no document is built) and copied as it is: a tool's schema goes into
// every request. what() names the value in an error and is only called on one.
template <class What>
Status embedObject(Writer& w, std::string_view text, const What& what) {
  if (text.empty()) text = "{}";
  Status valid = json::validateObject(text);
  if (!valid.isOk()) return valid.withContext(what());
  w.raw(text, rapidjson::kObjectType);
  return Status::ok();
}

// Writes a tool's name, optional description and its parameter schema under `schema_key`
// (OpenAI: "parameters", Anthropic: "input_schema").
Status writeToolFields(Writer& w, const ToolDefinition& t, std::string_view schema_key) {
  json::writeKey(w, "name");
  json::writeString(w, t.name);
  if (!t.description.empty()) {
    json::writeKey(w, "description");
    json::writeString(w, t.description);
  }
  json::writeKey(w, schema_key);
  return embedObject(w, t.parameters, [&] { return "tool " + t.name + " parameters"; });
}

// The "tools" array of requests, encoded once per list of tools: an agent sends the same names,
// descriptions and schemas (about 11 KB for the first-party plugins) in every request, and each
// schema is checked once while its list is kept. Keeps the four lists used last (a provider's
// agents may differ), compared whole, so a changed tool is encoded and checked afresh.
// Thread-safe. REQUIRES: one instance is always called with the same write_tool.
class ToolsArrays {
 public:
  // The array for `tools`, made with write_tool(w, tool) for each when it is not kept; or the
  // first error write_tool returns.
  template <class WriteTool>
  Result<std::shared_ptr<const std::string>> get(const std::vector<ToolDefinition>& tools,
                                                 const WriteTool& write_tool) const {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = kept_.begin(); it != kept_.end(); ++it) {
        if (it->tools != tools) continue;
        kept_.splice(kept_.begin(), kept_, it);  // most recent first
        return kept_.front().text;
      }
    }
    json::StringOutput os(toolsSizeHint(tools));
    Writer w(os);
    w.StartArray();
    for (const ToolDefinition& t : tools) AGENTD_RETURN_IF_ERROR(write_tool(w, t));
    w.EndArray();
    Kept made{tools, std::make_shared<const std::string>(os.take())};
    std::list<Kept> dropped;  // freed after the lock
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = kept_.begin(); it != kept_.end(); ++it) {
      if (it->tools != tools) continue;  // another thread made it meanwhile
      kept_.splice(kept_.begin(), kept_, it);
      return kept_.front().text;
    }
    kept_.push_front(std::move(made));
    if (kept_.size() > kKept) dropped.splice(dropped.begin(), kept_, std::prev(kept_.end()));
    return kept_.front().text;
  }

 private:
  struct Kept {
    std::vector<ToolDefinition> tools;
    std::shared_ptr<const std::string> text;
  };
  static constexpr size_t kKept = 4;
  mutable std::mutex mu_;
  mutable std::list<Kept> kept_;
};

std::string getString(const Value& obj, const char* name) {
  if (!obj.IsObject()) return {};
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

int64_t getInt(const Value& obj, const char* name) {
  if (!obj.IsObject()) return 0;
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsNumber()) return 0;
  return it->value.IsInt64() ? it->value.GetInt64() : static_cast<int64_t>(it->value.GetDouble());
}

const Value* member(const Value& obj, const char* name) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

void sampling(Writer& w, const ChatRequest& req, const ModelOptions& model) {
  if (auto t = req.temperature ? req.temperature : model.temperature) {
    json::writeKey(w, "temperature");
    w.Double(*t);
  }
  if (model.top_p) {
    json::writeKey(w, "top_p");
    w.Double(*model.top_p);
  }
}

// ---------------------------------------------------------------- OpenAI Chat Completions

void openAiUsage(const Value& u, Usage* usage) {
  if (!u.IsObject()) return;
  usage->input_tokens = getInt(u, "prompt_tokens");
  usage->output_tokens = getInt(u, "completion_tokens");
  if (const Value* d = member(u, "prompt_tokens_details")) {
    usage->cache_read_tokens = getInt(*d, "cached_tokens");
  }
  if (usage->cache_read_tokens == 0) {  // DeepSeek's spelling
    usage->cache_read_tokens = getInt(u, "prompt_cache_hit_tokens");
  }
}

class OpenAiStream : public StreamDecoder {
 public:
  std::optional<StreamError> onEvent(const SseEvent& ev, const StreamCallback& emit) override {
    if (ev.data == "[DONE]") {
      done_ = true;
      return std::nullopt;
    }
    json::LocalDocument doc;
    Status parsed = doc.parse(ev.data);
    if (!parsed.isOk() || !doc->IsObject()) {
      return StreamError{
          Status::internal("malformed stream chunk: " +
                           (parsed.isOk() ? std::string("not an object") : parsed.message())),
          0};
    }
    const Value& d = *doc;
    if (const Value* err = member(d, "error")) {
      std::string msg = getString(*err, "message");
      return StreamError{Status::unavailable("stream error: " + msg), 0};
    }
    if (r_.id.empty()) r_.id = getString(d, "id");
    if (std::string m = getString(d, "model"); !m.empty()) r_.model = m;
    if (const Value* u = member(d, "usage")) openAiUsage(*u, &r_.usage);
    const Value* choices = member(d, "choices");
    if (!choices || !choices->IsArray() || choices->Empty()) return std::nullopt;
    const Value& c = (*choices)[0];
    if (std::string fr = getString(c, "finish_reason"); !fr.empty()) {
      r_.finish_reason_raw = fr;
      saw_finish_ = true;
    }
    const Value* delta = member(c, "delta");
    if (!delta) return std::nullopt;
    if (std::string text = getString(*delta, "content"); !text.empty()) {
      r_.content += text;
      if (emit) emit(StreamDelta{StreamDelta::Kind::kText, text, 0, {}, {}});
    }
    const Value* calls = member(*delta, "tool_calls");
    if (calls && calls->IsArray()) {
      for (const Value& tc : calls->GetArray()) {
        int index = static_cast<int>(getInt(tc, "index"));
        if (index < 0 || index > 1024) {
          return StreamError{Status::internal("malformed stream chunk: tool call index"), 0};
        }
        auto it = slots_.find(index);
        const Value* fn = member(tc, "function");
        std::string id = getString(tc, "id");
        std::string name = fn ? getString(*fn, "name") : "";
        if (it == slots_.end()) {
          it = slots_.emplace(index, r_.tool_calls.size()).first;
          r_.tool_calls.push_back(ToolCall{id, name, ""});
          if (emit) emit(StreamDelta{StreamDelta::Kind::kToolCallStart, {}, index, id, name});
        } else {
          ToolCall& call = r_.tool_calls[it->second];
          if (call.id.empty()) call.id = id;
          call.name += name;
        }
        if (fn) {
          if (std::string args = getString(*fn, "arguments"); !args.empty()) {
            r_.tool_calls[it->second].arguments += args;
            if (emit) emit(StreamDelta{StreamDelta::Kind::kToolCallArguments, args, index, {}, {}});
          }
        }
      }
    }
    return std::nullopt;
  }
  // Some compatible servers end without [DONE]; a finish_reason marks the end as well.
  bool complete() const override { return done_ || saw_finish_; }
  ChatResponse finish() override {
    r_.finish_reason = finishReasonFromOpenAi(r_.finish_reason_raw);
    for (auto& c : r_.tool_calls) {
      if (c.arguments.empty()) c.arguments = "{}";
    }
    return std::move(r_);
  }

 private:
  ChatResponse r_;
  std::map<int, size_t> slots_;
  bool done_ = false;
  bool saw_finish_ = false;
};

class OpenAiCodec : public WireCodec {
 public:
  std::string path() const override { return "/chat/completions"; }

  std::vector<std::pair<std::string, std::string>> headers(
      const ProviderOptions& p) const override {
    if (p.api_key.empty()) return {};
    return {{"Authorization", "Bearer " + p.api_key}};
  }

  Result<std::string> encode(const ChatRequest& req, const ModelOptions& model,
                             bool stream) const override {
    json::StringOutput os(encodedSizeHint(req));
    Writer w(os);
    w.StartObject();
    json::writeKey(w, "model");
    json::writeString(w, model.model);
    json::writeKey(w, "messages");
    w.StartArray();
    for (const Message& m : req.messages) {
      w.StartObject();
      json::writeKey(w, "role");
      json::writeString(w, roleName(m.role));
      if (m.role == Role::kTool) {
        json::writeKey(w, "tool_call_id");
        json::writeString(w, m.tool_call_id);
        json::writeKey(w, "content");
        // Chat Completions has no error flag on tool messages; it travels in the text.
        json::writeString(w, m.is_error ? "ERROR: " + m.content : m.content);
      } else if (m.role == Role::kAssistant && !m.tool_calls.empty()) {
        json::writeKey(w, "content");
        if (m.content.empty()) {
          w.Null();
        } else {
          json::writeString(w, m.content);
        }
        json::writeKey(w, "tool_calls");
        w.StartArray();
        for (const ToolCall& c : m.tool_calls) {
          w.StartObject();
          json::writeKey(w, "id");
          json::writeString(w, c.id);
          json::writeKey(w, "type");
          json::writeString(w, "function");
          json::writeKey(w, "function");
          w.StartObject();
          json::writeKey(w, "name");
          json::writeString(w, c.name);
          json::writeKey(w, "arguments");
          json::writeString(w, c.arguments.empty() ? "{}" : c.arguments);
          w.EndObject();
          w.EndObject();
        }
        w.EndArray();
      } else {
        json::writeKey(w, "content");
        json::writeString(w, m.content);
      }
      w.EndObject();
    }
    w.EndArray();
    if (!req.tools.empty()) {
      auto tools = tools_.get(req.tools, [](Writer& tw, const ToolDefinition& t) {
        tw.StartObject();
        json::writeKey(tw, "type");
        json::writeString(tw, "function");
        json::writeKey(tw, "function");
        tw.StartObject();
        AGENTD_RETURN_IF_ERROR(writeToolFields(tw, t, "parameters"));
        tw.EndObject();
        tw.EndObject();
        return Status::ok();
      });
      if (!tools.ok()) return tools.status();
      json::writeKey(w, "tools");
      w.raw(**tools, rapidjson::kArrayType);
      if (model.parallel_tool_calls) {
        json::writeKey(w, "parallel_tool_calls");
        w.Bool(*model.parallel_tool_calls);
      }
    }
    json::writeKey(w, "max_tokens");
    w.Int(req.max_tokens.value_or(model.max_tokens));
    sampling(w, req, model);
    if (stream) {
      json::writeKey(w, "stream");
      w.Bool(true);
      json::writeKey(w, "stream_options");
      w.StartObject();
      json::writeKey(w, "include_usage");
      w.Bool(true);
      w.EndObject();
    }
    w.EndObject();
    return os.take();
  }

  Result<ChatResponse> decode(std::string_view body) const override {
    json::LocalDocument doc;
    if (Status st = doc.parse(body); !st.isOk()) return st.withContext("malformed response");
    const Value& d = *doc;
    const Value* choices = member(d, "choices");
    if (!choices || !choices->IsArray() || choices->Empty()) {
      return Status::internal("malformed response: no choices");
    }
    ChatResponse r;
    r.id = getString(d, "id");
    r.model = getString(d, "model");
    const Value& c = (*choices)[0];
    r.finish_reason_raw = getString(c, "finish_reason");
    r.finish_reason = finishReasonFromOpenAi(r.finish_reason_raw);
    const Value* msg = member(c, "message");
    if (!msg || !msg->IsObject()) return Status::internal("malformed response: no message");
    r.content = getString(*msg, "content");
    if (const Value* calls = member(*msg, "tool_calls"); calls && calls->IsArray()) {
      for (const Value& tc : calls->GetArray()) {
        const Value* fn = member(tc, "function");
        ToolCall call{getString(tc, "id"), fn ? getString(*fn, "name") : "",
                      fn ? getString(*fn, "arguments") : ""};
        if (call.arguments.empty()) call.arguments = "{}";
        r.tool_calls.push_back(std::move(call));
      }
    }
    if (const Value* u = member(d, "usage")) openAiUsage(*u, &r.usage);
    return r;
  }

  std::unique_ptr<StreamDecoder> streamDecoder() const override {
    return std::make_unique<OpenAiStream>();
  }

 private:
  ToolsArrays tools_;
};

// ---------------------------------------------------------------- Anthropic Messages

void anthropicUsage(const Value& u, Usage* usage) {
  if (!u.IsObject()) return;
  int64_t input = getInt(u, "input_tokens");
  int64_t read = getInt(u, "cache_read_input_tokens");
  int64_t creation = getInt(u, "cache_creation_input_tokens");
  if (member(u, "input_tokens") || read || creation) {
    usage->cache_read_tokens = read;
    usage->cache_creation_tokens = creation;
    usage->input_tokens = input + read + creation;
  }
  if (member(u, "output_tokens")) usage->output_tokens = getInt(u, "output_tokens");
}

long anthropicErrorStatus(std::string_view type) {
  if (type == "overloaded_error") return 529;
  if (type == "rate_limit_error") return 429;
  if (type == "api_error") return 500;
  if (type == "timeout_error") return 504;
  return 0;
}

class AnthropicStream : public StreamDecoder {
 public:
  std::optional<StreamError> onEvent(const SseEvent& ev, const StreamCallback& emit) override {
    json::LocalDocument doc;
    Status parsed = doc.parse(ev.data);
    if (!parsed.isOk() || !doc->IsObject()) {
      return StreamError{
          Status::internal("malformed stream event: " +
                           (parsed.isOk() ? std::string("not an object") : parsed.message())),
          0};
    }
    const Value& d = *doc;
    std::string type = getString(d, "type");
    if (type.empty()) type = ev.event;
    if (type == "message_start") {
      if (const Value* m = member(d, "message")) {
        r_.id = getString(*m, "id");
        r_.model = getString(*m, "model");
        if (const Value* u = member(*m, "usage")) anthropicUsage(*u, &r_.usage);
      }
    } else if (type == "content_block_start") {
      int block = static_cast<int>(getInt(d, "index"));
      const Value* cb = member(d, "content_block");
      if (cb && getString(*cb, "type") == "tool_use") {
        int index = static_cast<int>(r_.tool_calls.size());
        blocks_[block] = index;
        ToolCall call{getString(*cb, "id"), getString(*cb, "name"), ""};
        const Value* input = member(*cb, "input");
        initial_input_.push_back(
            input && input->IsObject() && input->MemberCount() > 0 ? json::write(*input) : "");
        r_.tool_calls.push_back(call);
        if (emit)
          emit(StreamDelta{StreamDelta::Kind::kToolCallStart, {}, index, call.id, call.name});
      } else if (cb && getString(*cb, "type") == "text") {
        if (std::string text = getString(*cb, "text"); !text.empty()) appendText(text, emit);
      }
    } else if (type == "content_block_delta") {
      int block = static_cast<int>(getInt(d, "index"));
      const Value* delta = member(d, "delta");
      if (!delta) return std::nullopt;
      std::string dtype = getString(*delta, "type");
      if (dtype == "text_delta") {
        appendText(getString(*delta, "text"), emit);
      } else if (dtype == "input_json_delta") {
        auto it = blocks_.find(block);
        if (it == blocks_.end()) {
          return StreamError{Status::internal("malformed stream: input_json_delta for block " +
                                              std::to_string(block) + " without tool_use"),
                             0};
        }
        std::string part = getString(*delta, "partial_json");
        if (!part.empty()) {
          r_.tool_calls[it->second].arguments += part;
          if (emit) {
            emit(StreamDelta{StreamDelta::Kind::kToolCallArguments, part, it->second, {}, {}});
          }
        }
      }
    } else if (type == "message_delta") {
      if (const Value* delta = member(d, "delta")) {
        if (std::string sr = getString(*delta, "stop_reason"); !sr.empty()) {
          r_.finish_reason_raw = sr;
        }
      }
      if (const Value* u = member(d, "usage")) anthropicUsage(*u, &r_.usage);
    } else if (type == "message_stop") {
      done_ = true;
    } else if (type == "error") {
      const Value* err = member(d, "error");
      std::string etype = err ? getString(*err, "type") : "";
      std::string msg = err ? getString(*err, "message") : "";
      return StreamError{Status::unavailable("stream error " + etype + ": " + msg),
                         anthropicErrorStatus(etype)};
    }
    return std::nullopt;
  }
  bool complete() const override { return done_; }
  ChatResponse finish() override {
    r_.finish_reason = finishReasonFromAnthropic(r_.finish_reason_raw);
    for (size_t i = 0; i < r_.tool_calls.size(); ++i) {
      auto& c = r_.tool_calls[i];
      if (c.arguments.empty()) c.arguments = initial_input_[i].empty() ? "{}" : initial_input_[i];
    }
    return std::move(r_);
  }

 private:
  void appendText(const std::string& text, const StreamCallback& emit) {
    if (text.empty()) return;
    r_.content += text;
    if (emit) emit(StreamDelta{StreamDelta::Kind::kText, text, 0, {}, {}});
  }
  ChatResponse r_;
  std::map<int, int> blocks_;  // content block index -> tool call index
  std::vector<std::string> initial_input_;
  bool done_ = false;
};

class AnthropicCodec : public WireCodec {
 public:
  std::string path() const override { return "/v1/messages"; }

  std::vector<std::pair<std::string, std::string>> headers(
      const ProviderOptions& p) const override {
    std::vector<std::pair<std::string, std::string>> h;
    if (!p.api_key.empty()) h.emplace_back("x-api-key", p.api_key);
    h.emplace_back("anthropic-version", p.api_version.empty() ? "2023-06-01" : p.api_version);
    return h;
  }

  Result<std::string> encode(const ChatRequest& req, const ModelOptions& model,
                             bool stream) const override {
    json::StringOutput os(encodedSizeHint(req));
    Writer w(os);
    w.StartObject();
    json::writeKey(w, "model");
    json::writeString(w, model.model);
    json::writeKey(w, "max_tokens");
    w.Int(req.max_tokens.value_or(model.max_tokens));
    std::string system;
    for (const Message& m : req.messages) {
      if (m.role != Role::kSystem) continue;
      if (!system.empty()) system += "\n\n";
      system += m.content;
    }
    if (!system.empty()) {
      json::writeKey(w, "system");
      json::writeString(w, system);
    }
    json::writeKey(w, "messages");
    w.StartArray();
    // Consecutive messages of one role merge into one message (tool results become the
    // tool_result blocks of a single user turn, as the API requires).
    const char* open_role = nullptr;
    for (const Message& m : req.messages) {
      if (m.role == Role::kSystem) continue;
      const char* role = m.role == Role::kAssistant ? "assistant" : "user";
      if (!open_role || std::string_view(open_role) != role) {
        if (open_role) {
          w.EndArray();
          w.EndObject();
        }
        w.StartObject();
        json::writeKey(w, "role");
        json::writeString(w, role);
        json::writeKey(w, "content");
        w.StartArray();
        open_role = role;
      }
      if (m.role == Role::kTool) {
        w.StartObject();
        json::writeKey(w, "type");
        json::writeString(w, "tool_result");
        json::writeKey(w, "tool_use_id");
        json::writeString(w, m.tool_call_id);
        json::writeKey(w, "content");
        json::writeString(w, m.content);
        if (m.is_error) {
          json::writeKey(w, "is_error");
          w.Bool(true);
        }
        w.EndObject();
        continue;
      }
      if (!m.content.empty()) {
        w.StartObject();
        json::writeKey(w, "type");
        json::writeString(w, "text");
        json::writeKey(w, "text");
        json::writeString(w, m.content);
        w.EndObject();
      }
      for (const ToolCall& c : m.tool_calls) {
        w.StartObject();
        json::writeKey(w, "type");
        json::writeString(w, "tool_use");
        json::writeKey(w, "id");
        json::writeString(w, c.id);
        json::writeKey(w, "name");
        json::writeString(w, c.name);
        json::writeKey(w, "input");
        AGENTD_RETURN_IF_ERROR(
            embedObject(w, c.arguments, [&] { return "tool call " + c.id + " arguments"; }));
        w.EndObject();
      }
    }
    if (open_role) {
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    if (!req.tools.empty()) {
      auto tools = tools_.get(req.tools, [](Writer& tw, const ToolDefinition& t) {
        tw.StartObject();
        AGENTD_RETURN_IF_ERROR(writeToolFields(tw, t, "input_schema"));
        tw.EndObject();
        return Status::ok();
      });
      if (!tools.ok()) return tools.status();
      json::writeKey(w, "tools");
      w.raw(**tools, rapidjson::kArrayType);
      if (model.parallel_tool_calls && !*model.parallel_tool_calls) {
        json::writeKey(w, "tool_choice");
        w.StartObject();
        json::writeKey(w, "type");
        json::writeString(w, "auto");
        json::writeKey(w, "disable_parallel_tool_use");
        w.Bool(true);
        w.EndObject();
      }
    }
    sampling(w, req, model);
    if (stream) {
      json::writeKey(w, "stream");
      w.Bool(true);
    }
    w.EndObject();
    return os.take();
  }

  Result<ChatResponse> decode(std::string_view body) const override {
    json::LocalDocument doc;
    if (Status st = doc.parse(body); !st.isOk()) return st.withContext("malformed response");
    const Value& d = *doc;
    const Value* content = member(d, "content");
    if (!content || !content->IsArray()) return Status::internal("malformed response: no content");
    ChatResponse r;
    r.id = getString(d, "id");
    r.model = getString(d, "model");
    r.finish_reason_raw = getString(d, "stop_reason");
    r.finish_reason = finishReasonFromAnthropic(r.finish_reason_raw);
    for (const Value& block : content->GetArray()) {
      std::string type = getString(block, "type");
      if (type == "text") {
        r.content += getString(block, "text");
      } else if (type == "tool_use") {
        const Value* input = member(block, "input");
        r.tool_calls.push_back(ToolCall{getString(block, "id"), getString(block, "name"),
                                        input ? json::write(*input) : "{}"});
      }
    }
    if (const Value* u = member(d, "usage")) anthropicUsage(*u, &r.usage);
    return r;
  }

  std::unique_ptr<StreamDecoder> streamDecoder() const override {
    return std::make_unique<AnthropicStream>();
  }

 private:
  ToolsArrays tools_;
};

}  // namespace

std::unique_ptr<WireCodec> openAiCodec() { return std::make_unique<OpenAiCodec>(); }
std::unique_ptr<WireCodec> anthropicCodec() { return std::make_unique<AnthropicCodec>(); }

std::string errorMessageFromBody(std::string_view body) {
  auto doc = json::parse(body);
  if (doc.ok()) {
    if (const Value* err = member(*doc, "error")) {
      if (err->IsString()) return std::string(err->GetString(), err->GetStringLength());
      std::string msg = getString(*err, "message");
      std::string type = getString(*err, "type");
      if (!msg.empty()) return type.empty() ? msg : type + ": " + msg;
    }
    std::string msg = getString(*doc, "message");
    if (!msg.empty()) return msg;
  }
  std::string s(body.substr(0, 300));
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

FinishReason finishReasonFromOpenAi(std::string_view s) {
  if (s == "stop" || s.empty()) return FinishReason::kStop;
  if (s == "length") return FinishReason::kLength;
  if (s == "tool_calls" || s == "function_call") return FinishReason::kToolCalls;
  if (s == "content_filter") return FinishReason::kContentFilter;
  return FinishReason::kOther;
}

FinishReason finishReasonFromAnthropic(std::string_view s) {
  if (s == "end_turn" || s == "stop_sequence" || s.empty()) return FinishReason::kStop;
  if (s == "max_tokens") return FinishReason::kLength;
  if (s == "tool_use") return FinishReason::kToolCalls;
  if (s == "refusal") return FinishReason::kContentFilter;
  return FinishReason::kOther;
}

}  // namespace agentd::llm
