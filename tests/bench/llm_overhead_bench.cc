// Per-request cost of the model client against a raw libcurl easy loop, on the same fake model
// server (tests/support/fake_model_server.py) in the same run. Every variant sends the same
// bytes (the OpenAI codec's encoding of one request with a system prompt, a user message and
// two tools; the server answers with two tool calls). Besides wall time per request, each
// request benchmark reports the whole process's CPU time per request (getrusage), which includes
// the client's event thread and excludes the server. BM_OpenAiEncode times the codec alone on the
// agent benchmark's largest request, with its one tool (arg 0) or with the first-party plugins'
// tools (arg 1), beside RapidJSON writing the same JSON from a built document into its own
// buffer.
#include <benchmark/benchmark.h>
#include <curl/curl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>

#include "agent/http_pump.h"
#include "llm/client.h"
#include "llm/http_client.h"
#include "llm/wire.h"
#include "plugin/host.h"
#include "support/fake_model_server.h"

namespace {

using namespace agentd::llm;

agentd::testing::FakeModelServer* g_server = nullptr;

ChatRequest request() {
  ChatRequest r;
  r.messages.push_back(Message::system("You are a helpful agent. Use the tools when needed."));
  r.messages.push_back(Message::user("What is the weather and the local time in Paris?"));
  r.tools.push_back(ToolDefinition{
      "get_weather", "Current weather for a city",
      R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})"});
  r.tools.push_back(ToolDefinition{"get_time", "Local time in a city",
                                   R"({"type":"object","properties":{"city":{"type":"string"}}})"});
  return r;
}

ModelOptions model() {
  ModelOptions m;
  m.name = "bench";
  m.provider = "fake";
  m.model = "bench-model";
  m.max_tokens = 256;
  return m;
}

std::string body(bool stream) { return openAiCodec()->encode(request(), model(), stream).value(); }

double cpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void reportCpu(benchmark::State& state, double start) {
  if (state.iterations() > 0) {
    state.counters["cpu_us_per_request"] =
        (cpuSeconds() - start) * 1e6 / static_cast<double>(state.iterations());
  }
}

size_t append(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

// Baseline: one easy handle reused (keep-alive), blocking curl_easy_perform per request.
void BM_RawCurlEasy(benchmark::State& state) {
  bool stream = state.range(0) != 0;
  std::string payload = body(stream);
  std::string out;
  CURL* e = curl_easy_init();
  curl_slist* h = nullptr;
  h = curl_slist_append(h, "Content-Type: application/json");
  h = curl_slist_append(h, "Authorization: Bearer bench-key");
  h = curl_slist_append(h, stream ? "Accept: text/event-stream" : "Accept: application/json");
  h = curl_slist_append(h, "Expect:");
  std::string url = g_server->openAiBase() + "/chat/completions";
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, payload.data());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &append);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
  double cpu = cpuSeconds();
  for (auto _ : state) {
    out.clear();
    CURLcode rc = curl_easy_perform(e);
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK || code != 200) {
      state.SkipWithError("raw request failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  reportCpu(state, cpu);
  curl_slist_free_all(h);
  curl_easy_cleanup(e);
}
BENCHMARK(BM_RawCurlEasy)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The request of the transport rows: the encoded body, posted with the headers a provider sends.
HttpRequest transportRequest() {
  HttpRequest req;
  req.url = g_server->openAiBase() + "/chat/completions";
  req.body = body(false);
  req.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer bench-key"}};
  return req;
}

// The transport alone: HttpClient (multi handle on its event thread), body collected, no JSON.
void BM_HttpClient(benchmark::State& state) {
  auto client = HttpClient::create().value();
  HttpRequest req = transportRequest();
  double cpu = cpuSeconds();
  for (auto _ : state) {
    std::promise<HttpResult> p;
    HttpCallbacks cb;
    cb.on_done = [&p](HttpResult r) { p.set_value(std::move(r)); };
    client->start(req, std::move(cb));
    HttpResult r = p.get_future().get();
    if (r.status != 200) {
      state.SkipWithError("request failed");
      break;
    }
    benchmark::DoNotOptimize(r.body.data());
  }
  reportCpu(state, cpu);
}
BENCHMARK(BM_HttpClient)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The transport driven from an io_context on the calling thread (external_loop and the agent's
// pump, as agentd serve and run use it): no thread hand-off at all. Arg 0: the loopback path
// (the client's own HTTP/1.1), 1: libcurl's multi interface (loopback_direct = false).
void BM_HttpClientOnIo(benchmark::State& state) {
  HttpClient::Options options;
  options.external_loop = true;
  options.loopback_direct = state.range(0) == 0;
  auto client = HttpClient::create(options).value();
  boost::asio::io_context io;
  agentd::agent::driveOnIo(io, client->loop());
  HttpRequest req = transportRequest();
  double cpu = cpuSeconds();
  for (auto _ : state) {
    bool done = false;
    HttpResult result;
    HttpCallbacks cb;
    cb.on_done = [&](HttpResult r) {
      result = std::move(r);
      done = true;
    };
    client->start(req, std::move(cb));
    while (!done && io.run_one_for(std::chrono::seconds(10)) > 0) {
    }
    if (!done || result.status != 200) {
      state.SkipWithError("request failed");
      break;
    }
    benchmark::DoNotOptimize(result.body.data());
  }
  reportCpu(state, cpu);
  client.reset();
  io.run_for(std::chrono::seconds(1));  // the pump sees the client gone and stops
}
BENCHMARK(BM_HttpClientOnIo)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The whole client: LlmClient::chat() (encode, breaker, transport, SSE or JSON decode, metrics).
void BM_LlmClient(benchmark::State& state) {
  bool stream = state.range(0) != 0;
  ProviderOptions p;
  p.name = "fake";
  p.type = "openai";
  p.base_url = g_server->openAiBase();
  p.api_key = "bench-key";
  auto client = LlmClient::create({p}, {model()}).value();
  ChatRequest req = request();
  CallOptions o;
  size_t deltas = 0;
  if (stream) o.on_delta = [&deltas](const StreamDelta&) { ++deltas; };
  double cpu = cpuSeconds();
  for (auto _ : state) {
    auto r = client->chat("bench", req, o);
    if (!r.ok() || r->tool_calls.size() != 2) {
      state.SkipWithError("call failed");
      break;
    }
  }
  reportCpu(state, cpu);
  benchmark::DoNotOptimize(deltas);
}
BENCHMARK(BM_LlmClient)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The whole client on an io_context, as an agentd task calls it (chatAsync, completion on io).
void BM_LlmClientOnIo(benchmark::State& state) {
  ProviderOptions p;
  p.name = "fake";
  p.type = "openai";
  p.base_url = g_server->openAiBase();
  p.api_key = "bench-key";
  LlmClient::Options options;
  options.http.external_loop = true;
  auto client = LlmClient::create({p}, {model()}, options).value();
  boost::asio::io_context io;
  agentd::agent::driveOnIo(io, client->http().loop());
  ChatRequest req = request();
  double cpu = cpuSeconds();
  for (auto _ : state) {
    std::optional<agentd::Result<ChatResponse>> out;
    client->chatAsync("bench", req, {},
                      [&](agentd::Result<ChatResponse> r) { out.emplace(std::move(r)); });
    while (!out && io.run_one_for(std::chrono::seconds(10)) > 0) {
    }
    if (!out || !out->ok() || (*out)->tool_calls.size() != 2) {
      state.SkipWithError("call failed");
      break;
    }
  }
  reportCpu(state, cpu);
  client.reset();
  io.run_for(std::chrono::seconds(1));
}
BENCHMARK(BM_LlmClientOnIo)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The request of step 11 of the agent benchmark's task (scripts/bench_agent.py): a system
// prompt, the task, ten assistant tool calls with their results, one tool.
ChatRequest agentStepRequest() {
  ChatRequest r;
  r.messages.push_back(Message::system(
      "You are an expert software engineering agent. Solve the task with the tools you have: "
      "read before you change, make small verified changes, and run what you wrote. When the "
      "task is done and verified, call task_done."));
  r.messages.push_back(Message::user("[Working directory]:\n/tmp/ws\n\n[Task]:\nrun the steps"));
  for (int i = 0; i < 10; ++i) {
    std::string id = "call_" + std::to_string(i);
    // The fake server's calls: the user's text as the first query, then empty ones.
    std::string query = i == 0 ? R"([Working directory]:\n/tmp/ws\n\n[Task]:\nrun the steps)" : "";
    r.messages.push_back(Message::assistant(
        "", {ToolCall{id, "noop",
                      R"({"query": ")" + query + R"(", "index": )" + std::to_string(i) + "}"}}));
    r.messages.push_back(Message::toolResult(id, "", false));
  }
  r.tools.push_back(
      ToolDefinition{"noop", "Does nothing.", R"({"type":"object","properties":{}})"});
  return r;
}

// The first-party plugins' tools (bash, the edit tools, sequentialthinking, task_done), loaded
// from the build, with the fields the agent loop sends; or why they did not load.
const agentd::Result<std::vector<ToolDefinition>>& firstPartyTools() {
  static const agentd::Result<std::vector<ToolDefinition>> tools = []() {
    std::string copies = (std::filesystem::temp_directory_path() /
                          ("agentd-bench-plugins-" + std::to_string(getpid())))
                             .string();
    agentd::Result<std::vector<ToolDefinition>> out = std::vector<ToolDefinition>{};
    {
      agentd::plugin::PluginHost host({copies});
      std::vector<agentd::plugin::PluginSpec> specs;
      for (const char* name : {"bash", "str_replace_based_edit_tool", "json_edit_tool",
                               "sequentialthinking", "task_done"}) {
        agentd::plugin::PluginSpec spec;
        spec.path = std::string(AGENTD_PLUGIN_DIR) + "/" + name + ".so";
        specs.push_back(spec);
      }
      agentd::Status loaded = host.apply(specs);
      if (loaded.isOk()) {
        for (const auto& t : host.current()->tools()) {
          out->push_back({t.name, t.description, t.input_schema});
        }
      } else {
        out = loaded.withContext("the first-party plugins did not load");
      }
    }  // the host unloads its copies before they are removed
    std::error_code ec;
    std::filesystem::remove_all(copies, ec);
    return out;
  }();
  return tools;
}

// The step-11 request with the tools of arg 0: `noop` (0) or the first-party ones (1); none,
// and the benchmark skipped with the reason, when those did not load.
std::optional<ChatRequest> encodeRequest(benchmark::State& state) {
  ChatRequest r = agentStepRequest();
  if (state.range(0) == 1) {
    const auto& tools = firstPartyTools();
    if (!tools.ok()) {
      state.SkipWithError(tools.status().message().c_str());
      return std::nullopt;
    }
    r.tools = *tools;
  }
  return r;
}

// The codec's encoding of that request, per request.
void BM_OpenAiEncode(benchmark::State& state) {
  std::optional<ChatRequest> req = encodeRequest(state);
  if (!req) return;
  ModelOptions m = model();
  auto codec = openAiCodec();
  size_t bytes = 0;
  for (auto _ : state) {
    agentd::Result<std::string> encoded = codec->encode(*req, m, false);
    if (!encoded.ok()) {
      state.SkipWithError(encoded.status().message().c_str());
      return;
    }
    bytes = encoded->size();
    benchmark::DoNotOptimize(encoded->data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes * state.iterations()));
}
BENCHMARK(BM_OpenAiEncode)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// Baseline: RapidJSON's own fast path writing the same JSON from a document built beforehand
// (Writer over a StringBuffer), then copied into a std::string as the codec returns one.
void BM_RapidJsonWriteSameJson(benchmark::State& state) {
  std::optional<ChatRequest> req = encodeRequest(state);
  if (!req) return;
  std::string text = openAiCodec()->encode(*req, model(), false).value();
  rapidjson::Document doc;
  if (doc.Parse(text.data(), text.size()).HasParseError()) {
    state.SkipWithError("the codec's body did not parse");
    return;
  }
  for (auto _ : state) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    doc.Accept(w);
    std::string out(sb.GetString(), sb.GetSize());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(text.size() * state.iterations()));
}
BENCHMARK(BM_RapidJsonWriteSameJson)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  agentd::testing::FakeModelServer server;
  if (!server.ok()) {
    fprintf(stderr, "fake model server did not start\n");
    return 1;
  }
  g_server = &server;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
