// The scripted and replay providers and the cassette recorder.
#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>

#include "common/json.h"
#include "common/sha256.h"
#include "llm/canonical.h"
#include "llm/providers_impl.h"
#include "observability/log.h"

namespace agentd::llm {
namespace {

using rapidjson::Value;

// Splits text into JSON values: one array of values, or one value per non-blank line.
// Each value comes with a label for errors ("line 3", "turn 2").
Result<std::vector<std::pair<std::string, rapidjson::Document>>> splitValues(std::string_view text,
                                                                             bool allow_array) {
  std::vector<std::pair<std::string, rapidjson::Document>> out;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return out;
  if (allow_array && text[first] == '[') {
    auto doc = json::parse(text);
    if (!doc.ok()) return doc.status();
    int n = 0;
    for (Value& v : doc->GetArray()) {
      rapidjson::Document d;
      d.CopyFrom(v, d.GetAllocator());
      out.emplace_back("turn " + std::to_string(++n), std::move(d));
    }
    return out;
  }
  size_t line_no = 0;
  size_t at = 0;
  while (at <= text.size()) {
    size_t nl = text.find('\n', at);
    std::string_view line =
        text.substr(at, nl == std::string_view::npos ? text.size() - at : nl - at);
    ++line_no;
    at = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    size_t s = line.find_first_not_of(" \t\r");
    if (s == std::string_view::npos || line[s] == '#') continue;
    auto doc = json::parse(line);
    if (!doc.ok()) return doc.status().withContext("line " + std::to_string(line_no));
    out.emplace_back("line " + std::to_string(line_no), std::move(doc).value());
  }
  return out;
}

int64_t intMember(const Value& v, const char* name, int64_t def) {
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsNumber()) return def;
  return it->value.IsInt64() ? it->value.GetInt64() : static_cast<int64_t>(it->value.GetDouble());
}

std::string stringMember(const Value& v, const char* name) {
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsString()) return {};
  return it->value.GetString();
}

// A scripted error: {"http_status": 503, "message": "...", "retry_after_ms": 100} or
// {"transport": "timeout"|"connect"|"reset"|"truncated", "message": "..."}.
Result<Failure> scriptedFailure(const Value& e) {
  if (!e.IsObject()) return Status::invalidArgument("error must be an object");
  std::string message = stringMember(e, "message");
  if (message.empty()) message = "scripted error";
  if (long status = static_cast<long>(intMember(e, "http_status", 0)); status > 0) {
    HttpHeaders headers;
    if (int64_t ms = intMember(e, "retry_after_ms", -1); ms >= 0) {
      headers["retry-after-ms"] = std::to_string(ms);
    }
    return httpFailure(status, message, headers, std::chrono::system_clock::now());
  }
  std::string transport = stringMember(e, "transport");
  static const std::map<std::string, TransportError> kinds = {
      {"timeout", TransportError::kTimeout},
      {"connect", TransportError::kConnect},
      {"reset", TransportError::kReset},
      {"truncated", TransportError::kTruncated}};
  auto it = kinds.find(transport);
  if (it == kinds.end()) {
    return Status::invalidArgument(
        "error needs http_status or transport (timeout, connect, reset, truncated)");
  }
  return transportFailure(it->second, message);
}

void deliverLater(HttpClient& http, std::chrono::milliseconds delay,
                  std::shared_ptr<bool> cancelled, std::function<void()> fn, uint64_t* timer) {
  auto guarded = [cancelled, fn = std::move(fn)] {
    if (!*cancelled) fn();
  };
  if (delay.count() > 0) {
    *timer = http.runAfter(delay, std::move(guarded));
  } else {
    http.post(std::move(guarded));
  }
}

class ScriptedProvider final : public Provider {
 public:
  ScriptedProvider(const ProviderOptions& options, HttpClient& http, std::vector<ScriptTurn> turns)
      : Provider(options), http_(http), turns_(std::move(turns)) {}

  CancelFn start(const ChatRequest&, const ModelOptions& model, StreamCallback on_delta,
                 AttemptDone done) override {
    AttemptResult result;
    std::chrono::milliseconds delay{0};
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (next_ >= turns_.size() && options_.script_cycle && !turns_.empty()) next_ = 0;
      if (next_ >= turns_.size()) {
        result.failure.kind = FailureKind::kLocal;
        result.failure.reason = "script_exhausted";
        result.failure.status = Status::failedPrecondition(
            "provider " + name() + ": script " + options_.script_path + " has no turn left (" +
            std::to_string(turns_.size()) + " turns used)");
      } else {
        const ScriptTurn& turn = turns_[next_];
        size_t number = next_++;
        delay = turn.delay;
        if (turn.error) {
          result.failure = *turn.error;
          result.failure.status =
              makeStatus(turn.error->status.code(),
                         "provider " + name() + ": " + turn.error->status.message());
        } else {
          result.response = turn.response;
          if (result.response->model.empty()) result.response->model = model.model;
          if (result.response->id.empty()) {
            result.response->id = "scripted-" + std::to_string(number + 1);
          }
          result.response->provider = name();
        }
      }
    }
    auto cancelled = std::make_shared<bool>(false);
    auto timer = std::make_shared<uint64_t>(0);
    deliverLater(
        http_, delay, cancelled,
        [result = std::move(result), on_delta = std::move(on_delta),
         done = std::move(done)]() mutable {
          if (result.response) streamResponse(*result.response, on_delta);
          done(std::move(result));
        },
        timer.get());
    return [this, cancelled, timer] {
      *cancelled = true;
      if (*timer) http_.cancelTimer(*timer);
    };
  }

 private:
  HttpClient& http_;
  std::mutex mu_;
  std::vector<ScriptTurn> turns_;
  size_t next_ = 0;
};

class ReplayProvider final : public Provider {
 public:
  ReplayProvider(const ProviderOptions& options, HttpClient& http,
                 std::vector<CassetteEntry> entries)
      : Provider(options), http_(http) {
    for (auto& e : entries) by_hash_[e.hash].responses.push_back(std::move(e.response));
  }

  CancelFn start(const ChatRequest& request, const ModelOptions& model, StreamCallback on_delta,
                 AttemptDone done) override {
    std::string hash = requestHash(request, model);
    AttemptResult result;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = by_hash_.find(hash);
      if (it == by_hash_.end()) {
        std::string last;
        if (!request.messages.empty()) last = request.messages.back().content.substr(0, 80);
        result.failure.kind = FailureKind::kLocal;
        result.failure.reason = "replay_miss";
        result.failure.status = Status::notFound(
            "provider " + name() + ": cassette " + options_.cassette_path +
            " has no response for request " + hash + " (model \"" + model.model + "\", " +
            std::to_string(request.messages.size()) + " messages, last: \"" + last +
            "\"); record it with record_path set on the real provider");
      } else {
        // Repeated identical requests replay the recorded answers in order; the last repeats.
        Slot& slot = it->second;
        size_t i = std::min(slot.next, slot.responses.size() - 1);
        if (slot.next < slot.responses.size()) ++slot.next;
        result.response = slot.responses[i];
        result.response->provider = name();
      }
    }
    auto cancelled = std::make_shared<bool>(false);
    uint64_t timer = 0;
    deliverLater(
        http_, std::chrono::milliseconds(0), cancelled,
        [result = std::move(result), on_delta = std::move(on_delta),
         done = std::move(done)]() mutable {
          if (result.response) streamResponse(*result.response, on_delta);
          done(std::move(result));
        },
        &timer);
    return [cancelled] { *cancelled = true; };
  }

 private:
  struct Slot {
    std::vector<ChatResponse> responses;
    size_t next = 0;
  };
  HttpClient& http_;
  std::mutex mu_;
  std::map<std::string, Slot> by_hash_;
};

std::string utcNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

class RecordingProvider final : public Provider {
 public:
  explicit RecordingProvider(std::unique_ptr<Provider> inner)
      : Provider(inner->options()), inner_(std::move(inner)) {}

  CancelFn start(const ChatRequest& request, const ModelOptions& model, StreamCallback on_delta,
                 AttemptDone done) override {
    std::string canonical = canonicalRequest(request, model);
    return inner_->start(
        request, model, std::move(on_delta),
        [this, canonical = std::move(canonical), done = std::move(done)](AttemptResult r) mutable {
          if (r.response) record(canonical, *r.response);
          done(std::move(r));
        });
  }

 private:
  void record(const std::string& canonical, const ChatResponse& response) {
    std::string line = "{\"hash\":" + json::quote(sha256Hex(canonical)) +
                       ",\"provider\":" + json::quote(name()) +
                       ",\"recorded_at\":" + json::quote(utcNow()) + ",\"request\":" + canonical +
                       ",\"response\":" + responseToJson(response) + "}\n";
    std::lock_guard<std::mutex> lock(mu_);
    std::ofstream out(options_.record_path, std::ios::app | std::ios::binary);
    out << line;
    out.flush();
    if (!out) {
      log::warn("llm cassette write failed",
                {{"provider", name()}, {"path", options_.record_path}});
    }
  }
  std::unique_ptr<Provider> inner_;
  std::mutex mu_;
};

}  // namespace

Result<std::vector<ScriptTurn>> parseScript(std::string_view text) {
  auto values = splitValues(text, true);
  if (!values.ok()) return values.status();
  std::vector<ScriptTurn> turns;
  for (auto& [label, doc] : *values) {
    if (!doc.IsObject()) return Status::invalidArgument(label + ": a turn must be a JSON object");
    ScriptTurn turn;
    int64_t delay = intMember(doc, "delay_ms", 0);
    if (delay < 0) return Status::invalidArgument(label + ": delay_ms must be >= 0");
    turn.delay = std::chrono::milliseconds(delay);
    if (auto it = doc.FindMember("error"); it != doc.MemberEnd()) {
      auto f = scriptedFailure(it->value);
      if (!f.ok()) return f.status().withContext(label);
      turn.error = std::move(f).value();
    } else {
      auto r = responseFromJson(doc);
      if (!r.ok()) return r.status().withContext(label);
      turn.response = std::move(r).value();
    }
    turns.push_back(std::move(turn));
  }
  return turns;
}

Result<std::vector<CassetteEntry>> parseCassette(std::string_view text) {
  auto values = splitValues(text, false);
  if (!values.ok()) return values.status();
  std::vector<CassetteEntry> entries;
  for (auto& [label, doc] : *values) {
    if (!doc.IsObject()) return Status::invalidArgument(label + ": an entry must be an object");
    CassetteEntry e;
    e.hash = stringMember(doc, "hash");
    if (e.hash.empty()) {
      // A hand-written entry may give the canonical request instead of its hash.
      auto req = doc.FindMember("request");
      if (req == doc.MemberEnd()) {
        return Status::invalidArgument(label + ": an entry needs a hash or a request");
      }
      e.hash = sha256Hex(canonicalJson(json::write(req->value)));
    }
    auto resp = doc.FindMember("response");
    if (resp == doc.MemberEnd()) return Status::invalidArgument(label + ": no response");
    auto r = responseFromJson(resp->value);
    if (!r.ok()) return r.status().withContext(label);
    e.response = std::move(r).value();
    entries.push_back(std::move(e));
  }
  return entries;
}

Result<std::unique_ptr<Provider>> makeScriptedProvider(const ProviderOptions& options,
                                                       HttpClient& http) {
  if (options.script_path.empty()) {
    return Status::invalidArgument("provider " + options.name + ": scripted needs script_path");
  }
  auto text = readFile(options.script_path);
  if (!text.ok()) return text.status().withContext("provider " + options.name);
  auto turns = parseScript(*text);
  if (!turns.ok()) {
    return turns.status().withContext("provider " + options.name + ": " + options.script_path);
  }
  return std::unique_ptr<Provider>(
      std::make_unique<ScriptedProvider>(options, http, std::move(turns).value()));
}

Result<std::unique_ptr<Provider>> makeReplayProvider(const ProviderOptions& options,
                                                     HttpClient& http) {
  if (options.cassette_path.empty()) {
    return Status::invalidArgument("provider " + options.name + ": replay needs cassette_path");
  }
  auto text = readFile(options.cassette_path);
  if (!text.ok()) return text.status().withContext("provider " + options.name);
  auto entries = parseCassette(*text);
  if (!entries.ok()) {
    return entries.status().withContext("provider " + options.name + ": " + options.cassette_path);
  }
  return std::unique_ptr<Provider>(
      std::make_unique<ReplayProvider>(options, http, std::move(entries).value()));
}

Result<std::unique_ptr<Provider>> makeRecordingProvider(std::unique_ptr<Provider> inner) {
  const std::string& path = inner->options().record_path;
  std::ofstream probe(path, std::ios::app | std::ios::binary);
  if (!probe) {
    return Status::ioError("provider " + inner->name() + ": cannot open record_path " + path);
  }
  return std::unique_ptr<Provider>(std::make_unique<RecordingProvider>(std::move(inner)));
}

}  // namespace agentd::llm
