#include "agent/trajectory.h"

#include <rapidjson/filewritestream.h>
#include <rapidjson/prettywriter.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "common/json.h"
#include "common/json_writer.h"

namespace agentd::agent {

namespace fs = std::filesystem;

std::string isoNow() {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm t{};
  gmtime_r(&tv.tv_sec, &t);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  std::snprintf(buf + n, sizeof buf - n, ".%06ld", static_cast<long>(tv.tv_usec));
  return buf;
}

namespace {

// trae's tool result: {call_id, success, result, error, id}; text is the result on success, the
// error otherwise.
template <class Writer>
void toolResult(Writer& w, const std::string& call_id, bool success, const std::string& text) {
  w.StartObject();
  w.Key("call_id");
  json::writeString(w, call_id);
  w.Key("success");
  w.Bool(success);
  w.Key("result");
  if (success) {
    json::writeString(w, text);
  } else {
    w.Null();
  }
  w.Key("error");
  if (success) {
    w.Null();
  } else {
    json::writeString(w, text);
  }
  w.Key("id");
  w.Null();
  w.EndObject();
}

template <class Writer>
void rawJsonOrString(Writer& w, const std::string& text) {
  auto doc = json::parse(text.empty() ? "{}" : text);
  if (doc.ok()) {
    doc->Accept(w);
  } else {
    json::writeString(w, text);
  }
}

template <class Writer>
void toolCall(Writer& w, const llm::ToolCall& c) {
  w.StartObject();
  w.Key("call_id");
  json::writeString(w, c.id);
  w.Key("name");
  json::writeString(w, c.name);
  w.Key("arguments");
  rawJsonOrString(w, c.arguments);
  w.Key("id");
  w.Null();
  w.EndObject();
}

template <class Writer>
void toolCalls(Writer& w, const std::vector<llm::ToolCall>& calls) {
  if (calls.empty()) {
    w.Null();
    return;
  }
  w.StartArray();
  for (const auto& c : calls) toolCall(w, c);
  w.EndArray();
}

// trae's LLMMessage: role, content, and at most one tool_call or tool_result per message.
template <class Writer>
void messages(Writer& w, const std::vector<llm::Message>& msgs, size_t count) {
  w.StartArray();
  for (size_t k = 0; k < count && k < msgs.size(); ++k) {
    const llm::Message& m = msgs[k];
    if (m.role == llm::Role::kAssistant && m.tool_calls.size() > 1) {
      for (size_t i = 0; i < m.tool_calls.size(); ++i) {
        w.StartObject();
        w.Key("role");
        w.String("assistant");
        w.Key("content");
        json::writeString(w, i == 0 ? m.content : std::string());
        w.Key("tool_call");
        toolCall(w, m.tool_calls[i]);
        w.EndObject();
      }
      continue;
    }
    w.StartObject();
    w.Key("role");
    w.String(llm::roleName(m.role));
    w.Key("content");
    json::writeString(w, m.content);
    if (m.role == llm::Role::kAssistant && m.tool_calls.size() == 1) {
      w.Key("tool_call");
      toolCall(w, m.tool_calls[0]);
    }
    if (m.role == llm::Role::kTool) {
      w.Key("tool_result");
      toolResult(w, m.tool_call_id, !m.is_error, m.content);
    }
    w.EndObject();
  }
  w.EndArray();
}

template <class Writer>
void response(Writer& w, const llm::ChatResponse& r, bool full_usage) {
  w.StartObject();
  w.Key("content");
  json::writeString(w, r.content);
  w.Key("model");
  json::writeString(w, r.model);
  w.Key("finish_reason");
  json::writeString(w, r.finish_reason_raw.empty() ? llm::finishReasonName(r.finish_reason)
                                                   : r.finish_reason_raw);
  w.Key("usage");
  w.StartObject();
  w.Key("input_tokens");
  w.Int64(r.usage.input_tokens);
  w.Key("output_tokens");
  w.Int64(r.usage.output_tokens);
  if (full_usage) {
    w.Key("cache_creation_input_tokens");
    if (r.usage.cache_creation_tokens > 0) {
      w.Int64(r.usage.cache_creation_tokens);
    } else {
      w.Null();
    }
    w.Key("cache_read_input_tokens");
    if (r.usage.cache_read_tokens > 0) {
      w.Int64(r.usage.cache_read_tokens);
    } else {
      w.Null();
    }
    w.Key("reasoning_tokens");
    w.Null();
  }
  w.EndObject();
  w.Key("tool_calls");
  toolCalls(w, r.tool_calls);
  w.EndObject();
}

}  // namespace

std::string eventLogPathFor(const std::string& path) {
  fs::path p(path);
  if (p.extension() == ".json") p.replace_extension();
  return p.string() + ".events.jsonl";
}

TrajectoryRecorder::TrajectoryRecorder(std::string path, std::string task, std::string provider,
                                       std::string model, int max_steps,
                                       std::vector<std::string> tools_available)
    : path_(std::move(path)),
      event_log_path_(eventLogPathFor(path_)),
      task_(std::move(task)),
      provider_(std::move(provider)),
      model_(std::move(model)),
      max_steps_(max_steps),
      start_time_(isoNow()),
      tools_available_(std::move(tools_available)) {}

TrajectoryRecorder::~TrajectoryRecorder() {
  if (log_ != nullptr) std::fclose(log_);
}

Status TrajectoryRecorder::open() {
  std::error_code ec;
  fs::path parent = fs::path(path_).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  std::lock_guard<std::mutex> lock(mu_);
  log_ = std::fopen(event_log_path_.c_str(), "ae");
  if (log_ == nullptr) {
    return Status::ioError("cannot open event log " + event_log_path_ + ": " +
                           std::strerror(errno));
  }
  return Status::ok();
}

void TrajectoryRecorder::onEvent(const Event& e) {
  std::lock_guard<std::mutex> lock(mu_);
  if (log_ == nullptr) return;
  std::string line = e.toJson();
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), log_);
}

void TrajectoryRecorder::flush() {
  std::lock_guard<std::mutex> lock(mu_);
  if (log_ != nullptr) std::fflush(log_);
}

void TrajectoryRecorder::recordInteraction(size_t input_count,
                                           std::shared_ptr<const llm::ChatResponse> response) {
  Interaction i{isoNow(), input_count, std::move(response)};
  std::lock_guard<std::mutex> lock(mu_);
  interactions_.push_back(std::move(i));
}

void TrajectoryRecorder::recordStep(int step, const std::string& state, size_t input_count,
                                    std::shared_ptr<const llm::ChatResponse> r,
                                    std::vector<ToolOutcome> results, const std::string& error) {
  Step st{step, isoNow(), state, input_count, std::move(r), std::move(results), error};
  std::lock_guard<std::mutex> lock(mu_);
  steps_.push_back(std::move(st));
}

namespace {

template <class Writer>
void toolResults(Writer& w, const std::vector<ToolOutcome>& results) {
  if (results.empty()) {
    w.Null();
    return;
  }
  w.StartArray();
  for (const auto& t : results) toolResult(w, t.call_id, t.success, t.success ? t.result : t.error);
  w.EndArray();
}

}  // namespace

Status TrajectoryRecorder::finalize(bool success, const std::string& final_result,
                                    double execution_time,
                                    const std::vector<llm::Message>& conversation) {
  std::error_code ec;
  fs::path parent = fs::path(path_).parent_path();
  // open() made it for the event log beside the trajectory, unless there is no log.
  if (log_ == nullptr && !parent.empty()) fs::create_directories(parent, ec);
  // Written straight to a temporary file (a long task's trajectory repeats its conversation per
  // step and can run to megabytes: no copy of it in memory), then renamed into place.
  std::string tmp = path_ + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "we");
  if (f == nullptr) {
    return Status::ioError("cannot write " + tmp + ": " + std::strerror(errno));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Indented as trae writes it (json.dump(indent=2)).
    char chunk[64 * 1024];
    rapidjson::FileWriteStream os(f, chunk, sizeof chunk);
    rapidjson::PrettyWriter<rapidjson::FileWriteStream> w(os);
    w.SetIndent(' ', 2);
    w.StartObject();
    w.Key("task");
    json::writeString(w, task_);
    w.Key("start_time");
    json::writeString(w, start_time_);
    w.Key("end_time");
    json::writeString(w, isoNow());
    w.Key("provider");
    json::writeString(w, provider_);
    w.Key("model");
    json::writeString(w, model_);
    w.Key("max_steps");
    w.Int(max_steps_);
    w.Key("llm_interactions");
    w.StartArray();
    for (const auto& i : interactions_) {
      w.StartObject();
      w.Key("timestamp");
      json::writeString(w, i.timestamp);
      w.Key("provider");
      json::writeString(w, i.response->provider.empty() ? provider_ : i.response->provider);
      w.Key("model");
      json::writeString(w, i.response->model.empty() ? model_ : i.response->model);
      w.Key("input_messages");
      messages(w, conversation, i.input_count);
      w.Key("response");
      response(w, *i.response, /*full_usage=*/true);
      w.Key("tools_available");
      if (tools_available_.empty()) {
        w.Null();
      } else {
        w.StartArray();
        for (const auto& t : tools_available_) json::writeString(w, t);
        w.EndArray();
      }
      w.EndObject();
    }
    w.EndArray();
    w.Key("agent_steps");
    w.StartArray();
    for (const auto& st : steps_) {
      w.StartObject();
      w.Key("step_number");
      w.Int(st.step);
      w.Key("timestamp");
      json::writeString(w, st.timestamp);
      w.Key("state");
      json::writeString(w, st.state);
      w.Key("llm_messages");
      if (st.input_count == 0) {
        w.Null();
      } else {
        messages(w, conversation, st.input_count);
      }
      w.Key("llm_response");
      if (st.response) {
        response(w, *st.response, /*full_usage=*/false);
      } else {
        w.Null();
      }
      w.Key("tool_calls");
      if (st.response) {
        toolCalls(w, st.response->tool_calls);
      } else {
        w.Null();
      }
      w.Key("tool_results");
      toolResults(w, st.results);
      w.Key("reflection");
      w.Null();
      w.Key("error");
      if (st.error.empty()) {
        w.Null();
      } else {
        json::writeString(w, st.error);
      }
      w.EndObject();
    }
    w.EndArray();
    w.Key("success");
    w.Bool(success);
    w.Key("final_result");
    if (final_result.empty()) {
      w.Null();
    } else {
      json::writeString(w, final_result);
    }
    w.Key("execution_time");
    w.Double(execution_time);
    w.EndObject();
    os.Put('\n');
    os.Flush();
    if (log_ != nullptr) std::fflush(log_);
  }
  bool ok = !std::ferror(f) && std::fflush(f) == 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    int err = errno;  // before remove() can change it
    fs::remove(tmp, ec);
    return Status::ioError("cannot write " + tmp + ": " + std::strerror(err));
  }
  fs::rename(tmp, path_, ec);
  if (ec) return Status::ioError("cannot rename " + tmp + ": " + ec.message());
  return Status::ok();
}

}  // namespace agentd::agent
