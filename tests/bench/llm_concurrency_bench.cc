// N concurrent model calls against a fake model server that answers after a fixed latency:
// wall time, throughput, thread count and peak RSS of this process, as one JSON object on
// stdout. --mode=client runs LlmClient::chatAsync (OpenAI, non-streaming, or streaming with
// --stream=1); --mode=raw is the baseline: one thread driving a bare libcurl multi handle with
// the same requests. --curl=1 keeps the client on libcurl (HttpClient::Options::loopback_direct
// = false) although the server is on this host. Run each mode in its own process so peak RSS
// is its own.
#include <curl/curl.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <string>
#include <vector>

#include "llm/client.h"
#include "llm/wire.h"
#include "support/fake_model_server.h"

namespace {

using namespace agentd::llm;
using Clock = std::chrono::steady_clock;

long statusField(const char* name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  size_t n = std::strlen(name);
  while (std::getline(in, line)) {
    if (line.compare(0, n, name) == 0 && line[n] == ':') return std::atol(line.c_str() + n + 1);
  }
  return -1;
}

struct Round {
  double seconds = 0;
  int errors = 0;
  long peak_threads = 0;
};

ModelOptions model() {
  ModelOptions m;
  m.name = "bench";
  m.provider = "fake";
  m.model = "bench-model";
  return m;
}

ChatRequest request(int i) {
  ChatRequest r;
  r.messages.push_back(Message::system("You are a helpful agent."));
  r.messages.push_back(Message::user("request number " + std::to_string(i)));
  return r;
}

Round clientRound(LlmClient& client, int calls, bool stream) {
  Round r;
  std::atomic<int> finished{0}, errors{0};
  std::promise<void> all;
  auto start = Clock::now();
  for (int i = 0; i < calls; ++i) {
    CallOptions o;
    if (stream) o.on_delta = [](const StreamDelta&) {};
    client.chatAsync("bench", request(i), o, [&](agentd::Result<ChatResponse> res) {
      if (!res.ok()) ++errors;
      if (++finished == calls) all.set_value();
    });
  }
  auto f = all.get_future();
  // The main thread samples while it waits: no extra sampler thread is counted.
  while (f.wait_for(std::chrono::milliseconds(2)) != std::future_status::ready) {
    r.peak_threads = std::max(r.peak_threads, statusField("Threads"));
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.errors = errors.load();
  return r;
}

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

// The multi handle persists across rounds, so its connection pool does too (as the client's).
Round rawRound(CURLM* multi, const std::string& url, int calls,
               const std::vector<std::string>& bodies) {
  Round r;
  curl_slist* h = nullptr;
  h = curl_slist_append(h, "Content-Type: application/json");
  h = curl_slist_append(h, "Expect:");
  std::vector<CURL*> easy;
  auto start = Clock::now();
  for (int i = 0; i < calls; ++i) {
    CURL* e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, bodies[i].data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(bodies[i].size()));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &discard);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
    curl_multi_add_handle(multi, e);
    easy.push_back(e);
  }
  int running = 1;
  while (running > 0) {
    curl_multi_perform(multi, &running);
    if (running > 0) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
    r.peak_threads = std::max(r.peak_threads, statusField("Threads"));
  }
  int left = 0;
  while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
    long code = 0;
    curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
    if (m->msg == CURLMSG_DONE && (m->data.result != CURLE_OK || code != 200)) ++r.errors;
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (CURL* e : easy) {
    curl_multi_remove_handle(multi, e);
    curl_easy_cleanup(e);
  }
  curl_slist_free_all(h);
  return r;
}

std::string arg(int argc, char** argv, const char* name, const char* def) {
  std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) return argv[i] + prefix.size();
  }
  return def;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = arg(argc, argv, "mode", "client");
  int calls = std::stoi(arg(argc, argv, "calls", "1000"));
  int latency = std::stoi(arg(argc, argv, "latency-ms", "50"));
  int rounds = std::stoi(arg(argc, argv, "rounds", "3"));
  bool stream = arg(argc, argv, "stream", "0") == "1";
  bool curl = arg(argc, argv, "curl", "0") == "1";
  rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  agentd::testing::FakeModelServer server(latency);
  if (!server.ok()) {
    std::fprintf(stderr, "fake model server did not start\n");
    return 1;
  }
  long rss_before = statusField("VmRSS");
  std::vector<Round> results;
  std::unique_ptr<LlmClient> client;
  if (mode == "client") {
    ProviderOptions p;
    p.name = "fake";
    p.type = "openai";
    p.base_url = server.openAiBase();
    p.api_key = "bench-key";
    p.retry.max_attempts = 1;
    LlmClient::Options o;
    o.http.loopback_direct = !curl;
    client = LlmClient::create({p}, {model()}, o).value();
    clientRound(*client, std::min(calls, 20), stream);  // warm-up: code paths, not connections
    for (int i = 0; i < rounds; ++i) results.push_back(clientRound(*client, calls, stream));
  } else {
    std::vector<std::string> bodies;
    for (int i = 0; i < calls; ++i) {
      bodies.push_back(openAiCodec()->encode(request(i), model(), false).value());
    }
    std::string url = server.openAiBase() + "/chat/completions";
    CURLM* multi = curl_multi_init();
    rawRound(multi, url, std::min(calls, 20), bodies);
    for (int i = 0; i < rounds; ++i) results.push_back(rawRound(multi, url, calls, bodies));
    curl_multi_cleanup(multi);
  }
  std::vector<double> secs;
  long peak_threads = 0;
  int errors = 0;
  std::string per_round;
  for (const Round& r : results) {
    secs.push_back(r.seconds);
    peak_threads = std::max(peak_threads, r.peak_threads);
    errors += r.errors;
    per_round += (per_round.empty() ? "" : ",") + std::to_string(r.seconds);
  }
  std::sort(secs.begin(), secs.end());
  double median = secs[secs.size() / 2];
  std::printf(
      "{\"mode\":\"%s\",\"curl\":%s,\"stream\":%s,\"calls\":%d,\"latency_ms\":%d,\"rounds\":[%s],"
      "\"median_seconds\":%.4f,\"throughput_rps\":%.1f,\"errors\":%d,\"peak_threads\":%ld,"
      "\"rss_before_kib\":%ld,\"peak_rss_kib\":%ld}\n",
      mode.c_str(), curl ? "true" : "false", stream ? "true" : "false", calls, latency,
      per_round.c_str(), median, calls / median, errors, peak_threads, rss_before,
      statusField("VmHWM"));
  client.reset();
  return errors == 0 ? 0 : 1;
}
