// `agentd serve` as a child process, driven over real HTTP with libcurl: every endpoint, every
// error code, auth, rate limits, SSE order and resume, stop, pause and resume, chat sessions,
// CORS, reload, and graceful shutdown under load.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <signal.h>

#include <ctime>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "common/json.h"
#include "server/auth.h"
#include "support/fake_model_server.h"
#include "support/http_get.h"
#include "support/subprocess.h"
#include "support/toml.h"

namespace agentd::testing {
namespace {

using namespace std::chrono_literals;

const std::string kAgentd = std::string(AGENTD_BIN_DIR) + "/agentd";
const std::string kFixtures = AGENTD_FIXTURE_DIR;

std::string baseConfig(const FakeModelServer& model, int latency_ms = 0,
                       const std::string& server = "") {
  return "[server]\nshutdown_grace_seconds = 10\n" + server +
         "\n[metrics]\nlisten = \"127.0.0.1:0\"\n" +
         pluginToml("good", kFixtures + "/good_cpp.so") +
         "[model_providers.fake]\ntype = \"openai\"\nbase_url = \"" + model.openAiBase() +
         "\"\napi_key = \"k\"\nmax_attempts = 1\nheaders = { \"x-fake-latency-ms\" = \"" +
         std::to_string(latency_ms) +
         "\" }\n"
         "[models.m]\nprovider = \"fake\"\nmodel = \"fake-model\"\n"
         "[agents.default]\nmodel = \"m\"\nmax_steps = 4\ntools = [\"noop\", \"progress\"]\n";
}

// agentd serve on ephemeral ports.
class Server {
 public:
  explicit Server(const std::string& config_text, const std::string& tag = "server") {
    dir_ = freshDir(tag);
    writeFile(dir_ + "/agentd.toml", config_text);
    proc_ = std::make_unique<Subprocess>(std::vector<std::string>{
        kAgentd, "serve", "--config", dir_ + "/agentd.toml", "--listen", "127.0.0.1:0"});
    std::string line = proc_->waitForStderr("agentd serving", 20s);
    std::smatch m;
    if (std::regex_search(line, m, std::regex("\"api\":\"([0-9.]+:[0-9]+)\""))) api_ = m[1];
    if (std::regex_search(line, m, std::regex("\"metrics\":\"([0-9.]+:[0-9]+)\""))) {
      metrics_ = m[1];
    }
  }
  bool ok() const { return !api_.empty(); }
  std::string url(const std::string& path) const { return "http://" + api_ + path; }
  std::string metricsUrl() const { return "http://" + metrics_ + "/metrics"; }
  const std::string& dir() const { return dir_; }
  Subprocess& proc() { return *proc_; }
  HttpResponse get(const std::string& path, std::vector<std::string> h = {}) {
    return httpRequest("GET", url(path), "", h);
  }
  HttpResponse post(const std::string& path, const std::string& body,
                    std::vector<std::string> h = {}) {
    return httpRequest("POST", url(path), body, h);
  }
  // Submits a task; returns its id ("" on failure).
  std::string run(const std::string& body = R"({"task":"look it up"})",
                  std::vector<std::string> h = {}) {
    HttpResponse r = post("/api/run", body, h);
    if (r.code != 202) return "";
    auto d = json::parse(r.body);
    return d.ok() ? (*d)["task_id"].GetString() : "";
  }
  std::string waitState(const std::string& id, std::vector<std::string> final_states,
                        std::chrono::milliseconds timeout = 20s, std::vector<std::string> h = {}) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string state;
    while (std::chrono::steady_clock::now() < deadline) {
      HttpResponse r = get("/api/tasks/" + id + "/status", h);
      auto d = json::parse(r.body);
      if (d.ok() && d->HasMember("state")) state = (*d)["state"].GetString();
      for (const auto& s : final_states) {
        if (s == state) return state;
      }
      std::this_thread::sleep_for(10ms);
    }
    return state;
  }
  ~Server() {
    if (proc_) {
      proc_->signal(SIGKILL);
      proc_->wait(5s);
    }
  }

 private:
  std::string dir_, api_, metrics_;
  std::unique_ptr<Subprocess> proc_;
};

struct SseEvent {
  uint64_t id = 0;
  std::string event;
  std::string data;
};

// Reads an SSE response until the server closes it (bounded).
std::vector<SseEvent> readSse(const std::string& url, std::vector<std::string> headers = {},
                              long timeout_ms = 20000, const std::string& body = "",
                              const std::string& method = "GET") {
  HttpResponse r = httpRequest(method, url, body, headers, timeout_ms);
  std::vector<SseEvent> out;
  SseEvent cur;
  size_t start = 0;
  while (start < r.body.size()) {
    size_t nl = r.body.find('\n', start);
    if (nl == std::string::npos) break;
    std::string line = r.body.substr(start, nl - start);
    start = nl + 1;
    if (line.empty()) {
      if (!cur.event.empty() || !cur.data.empty()) out.push_back(cur);
      cur = SseEvent{};
    } else if (line.rfind("id: ", 0) == 0) {
      cur.id = std::stoull(line.substr(4));
    } else if (line.rfind("event: ", 0) == 0) {
      cur.event = line.substr(7);
    } else if (line.rfind("data: ", 0) == 0) {
      cur.data += line.substr(6);
    }
  }
  return out;
}

TEST(ServerApi, ProbesAndTaskLifecycleOverHttp) {
  FakeModelServer model;
  ASSERT_TRUE(model.ok());
  Server s(baseConfig(model));
  ASSERT_TRUE(s.ok()) << s.proc().stderrText();
  EXPECT_EQ(s.get("/livez").code, 200);
  EXPECT_EQ(s.get("/healthz").code, 200);
  EXPECT_EQ(s.get("/readyz").code, 200);
  HttpResponse verbose = s.get("/readyz?verbose");
  EXPECT_NE(verbose.body.find("[+]agent:default ok: ready"), std::string::npos) << verbose.body;
  EXPECT_NE(verbose.body.find("[+]plugin:good ok"), std::string::npos) << verbose.body;
  HttpResponse health = s.get("/api/health");
  EXPECT_EQ(health.code, 200);
  EXPECT_NE(health.body.find("\"ready\":true"), std::string::npos) << health.body;

  std::string id = s.run();
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(s.waitState(id, {"completed", "failed"}), "completed");
  HttpResponse status = s.get("/api/tasks/" + id + "/status");
  auto d = json::parse(status.body);
  ASSERT_TRUE(d.ok()) << status.body;
  EXPECT_STREQ((*d)["state"].GetString(), "completed");
  EXPECT_GT((*d)["messages"].Size(), 3u);
  EXPECT_TRUE((*d)["final_result"].IsString());
  HttpResponse list = s.get("/api/tasks");
  EXPECT_NE(list.body.find("\"id\":\"" + id + "\""), std::string::npos) << list.body;
  EXPECT_NE(list.body.find("\"duration\":"), std::string::npos);

  HttpResponse tools = s.get("/api/tools");
  EXPECT_NE(tools.body.find("\"name\":\"noop\""), std::string::npos);
  HttpResponse agents = s.get("/api/agents");
  EXPECT_NE(agents.body.find(R"("name":"default","state":"ready")"), std::string::npos)
      << agents.body;
  HttpResponse cfg = s.get("/api/config");
  EXPECT_EQ(cfg.code, 200);
  EXPECT_NE(cfg.body.find("<redacted>"), std::string::npos) << "api_key redacted";
  EXPECT_EQ(cfg.body.find("\"k\""), std::string::npos);
  HttpResponse models = s.get("/v1/models");
  EXPECT_NE(models.body.find("\"id\":\"m\""), std::string::npos) << models.body;

  // The HTTP metrics saw these requests. (The task gauges settle within 200 ms.)
  HttpResponse m;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  do {
    m = httpGet(s.metricsUrl());
    if (m.body.find(R"(agentd_tasks{state="completed"} 1)") != std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_NE(
      m.body.find(R"(agentd_http_requests_total{code="202",method="POST",route="/api/run"} 1)"),
      std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("agentd_http_request_duration_seconds_bucket{route=\"/livez\""),
            std::string::npos);
  EXPECT_NE(m.body.find(R"(agentd_tasks_total{result="completed"} 1)"), std::string::npos);
  EXPECT_NE(m.body.find(R"(agentd_tasks{state="completed"} 1)"), std::string::npos);
  EXPECT_NE(m.body.find("agentd_sse_streams 0"), std::string::npos);
}

TEST(ServerApi, ErrorCodes) {
  FakeModelServer model;
  Server s(baseConfig(model, 0, "max_body_bytes = 2048\n"));
  ASSERT_TRUE(s.ok()) << s.proc().stderrText();
  auto expectError = [&](const HttpResponse& r, long code, const std::string& part) {
    EXPECT_EQ(r.code, code) << r.body;
    EXPECT_NE(r.body.find("\"status\":\"error\""), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(part), std::string::npos) << r.body;
  };
  expectError(s.post("/api/run", "{not json"), 400, "not valid JSON");
  expectError(s.post("/api/run", "[1]"), 400, "JSON object");
  expectError(s.post("/api/run", "{}"), 400, "'task' is required");
  expectError(s.post("/api/run", R"({"task":3})"), 400, "'task' must be a string");
  expectError(s.post("/api/run", R"({"task":"x","max_steps":0})"), 400, "positive integer");
  expectError(s.post("/api/run", R"({"task":"x","colour":"red"})"), 400, "unknown field");
  expectError(s.post("/api/run", R"({"task":"x","working_dir":"rel"})"), 400, "absolute");
  expectError(s.post("/api/run", R"({"task":"x","agent":"nobody"})"), 404, "no agent");
  expectError(s.post("/api/run", R"({"task":"x","trajectory_file":"/etc/cron.d/x"})"), 400,
              "relative path");
  expectError(s.post("/api/run", R"({"task":"x","patch_path":"../../x.patch"})"), 400,
              "relative path");
  expectError(s.get("/api/tasks/nope/status"), 404, "no task");
  expectError(s.post("/api/tasks/nope/stop", ""), 404, "no task");
  expectError(s.get("/api/tasks/nope/stream"), 404, "no task");
  expectError(s.get("/api/nothing"), 404, "no such endpoint");
  HttpResponse r405 = s.get("/api/run");
  expectError(r405, 405, "not allowed");
  EXPECT_EQ(r405.header("Allow"), "POST");
  expectError(s.post("/api/run", std::string(4096, 'x')), 413, "larger than");
  expectError(s.post("/api/agents/nobody/pause", ""), 404, "no agent");
  // A finished task cannot be stopped.
  std::string id = s.run();
  ASSERT_EQ(s.waitState(id, {"completed"}), "completed");
  expectError(s.post("/api/tasks/" + id + "/stop", ""), 409, "already ended");
}

TEST(ServerApi, SseStreamsEventsInOrderAndResumesFromLastEventId) {
  FakeModelServer model;
  Server s(baseConfig(model));
  ASSERT_TRUE(s.ok());
  std::string id = s.run();
  ASSERT_FALSE(id.empty());
  auto events = readSse(s.url("/api/tasks/" + id + "/stream"));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().event, "task_start");
  EXPECT_EQ(events.back().event, "end");
  std::vector<std::string> kinds;
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].id, i + 1) << "ids count up from 1";
    auto d = json::parse(events[i].data);
    ASSERT_TRUE(d.ok()) << events[i].data;
    EXPECT_STREQ((*d)["type"].GetString(), events[i].event.c_str());
    if (events[i].event != "model_delta") kinds.push_back(events[i].event);
  }
  std::vector<std::string> expected = {"task_start",
                                       "model_request",
                                       "model_response",
                                       "tool_call",
                                       "tool_call",
                                       "tool_result",
                                       "tool_result",
                                       "step_end",
                                       "model_request",
                                       "model_response",
                                       "step_end",
                                       "complete",
                                       "end"};
  // Progress events of the `progress` tool come between its call and result.
  kinds.erase(std::remove(kinds.begin(), kinds.end(), "tool_progress"), kinds.end());
  EXPECT_EQ(kinds, expected);

  // Resume after event 5: exactly the rest.
  auto rest = readSse(s.url("/api/tasks/" + id + "/stream"), {"Last-Event-ID: 5"});
  ASSERT_EQ(rest.size(), events.size() - 5);
  EXPECT_EQ(rest.front().id, 6u);
  EXPECT_EQ(rest.back().event, "end");

  // After the end, or after an id beyond it: nothing more, and the stream ends at once rather
  // than on heartbeats until the client gives up.
  for (std::string last : {std::to_string(events.back().id), std::string("999999")}) {
    auto t0 = std::chrono::steady_clock::now();
    HttpResponse r = httpRequest("GET", s.url("/api/tasks/" + id + "/stream"), "",
                                 {"Last-Event-ID: " + last}, 10000);
    EXPECT_EQ(r.code, 200) << last;
    EXPECT_EQ(r.body.find("event:"), std::string::npos) << r.body;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s) << "Last-Event-ID " << last;
  }
}

// A running task asked for events after an id it has not reached yet: the client gets what
// follows, to the end (an id beyond the latest used to filter out every later event).
TEST(ServerApi, ALastEventIdBeyondTheLatestGetsWhatFollows) {
  FakeModelServer model;
  ASSERT_TRUE(model.ok());
  Server s(baseConfig(model, /*latency_ms=*/1000));
  ASSERT_TRUE(s.ok()) << s.proc().stderrText();
  std::string id = s.run();
  ASSERT_EQ(s.waitState(id, {"running"}), "running");
  auto events = readSse(s.url("/api/tasks/" + id + "/stream"), {"Last-Event-ID: 999999"});
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().event, "end");
  for (size_t i = 1; i < events.size(); ++i) EXPECT_EQ(events[i].id, events[i - 1].id + 1);
}

TEST(ServerApi, StopPauseAndResume) {
  FakeModelServer model;
  Server s(baseConfig(model, /*latency_ms=*/3000));
  ASSERT_TRUE(s.ok());
  std::string id = s.run();
  ASSERT_EQ(s.waitState(id, {"running"}), "running");
  auto start = std::chrono::steady_clock::now();
  HttpResponse stop = s.post("/api/tasks/" + id + "/stop", "");
  EXPECT_EQ(stop.code, 200) << stop.body;
  EXPECT_EQ(s.waitState(id, {"cancelled", "completed", "failed"}), "cancelled");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms) << "the model call was cancelled";

  EXPECT_EQ(s.post("/api/agents/default/pause", "").code, 200);
  HttpResponse agents = s.get("/api/agents");
  EXPECT_NE(agents.body.find("\"state\":\"paused\""), std::string::npos) << agents.body;
  HttpResponse refused = s.post("/api/run", R"({"task":"x"})");
  EXPECT_EQ(refused.code, 409) << refused.body;
  EXPECT_NE(refused.body.find("paused"), std::string::npos);
  EXPECT_EQ(s.post("/v1/chat", R"({"message":"hi"})").code, 409);
  EXPECT_EQ(s.post("/api/agents/default/pause", "").code, 409) << "already paused";
  EXPECT_EQ(s.post("/api/agents/default/resume", "").code, 200);
  EXPECT_FALSE(s.run().empty());
}

TEST(ServerApi, RateLimitAnswers429WithRetryAfter) {
  FakeModelServer model;
  Server s(baseConfig(model, 0, "[server.rate_limit]\nrequests_per_second = 0.5\nburst = 3\n"));
  ASSERT_TRUE(s.ok());
  int ok = 0, limited = 0;
  HttpResponse last;
  for (int i = 0; i < 6; ++i) {
    HttpResponse r = s.get("/api/tasks");
    if (r.code == 200) ++ok;
    if (r.code == 429) {
      ++limited;
      last = r;
    }
  }
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(limited, 3);
  EXPECT_GE(std::atoi(last.header("Retry-After").c_str()), 1) << last.headers;
  EXPECT_EQ(s.get("/livez").code, 200) << "probes are never limited";
}

// --- auth ---------------------------------------------------------------------------------

std::string hs256(const std::string& payload, const std::string& secret) {
  std::string head = server::base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." +
                     server::base64UrlEncode(payload);
  unsigned char mac[64];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(head.data()), head.size(), mac, &len);
  return head + "." + server::base64UrlEncode(std::string(reinterpret_cast<char*>(mac), len));
}

std::string rs256(const std::string& payload, EVP_PKEY* key) {
  std::string head = server::base64UrlEncode(R"({"alg":"RS256","typ":"JWT"})") + "." +
                     server::base64UrlEncode(payload);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(head.data()),
                 head.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(head.data()), head.size());
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  return head + "." + server::base64UrlEncode(sig);
}

TEST(ServerApi, AuthWithApiKeysAndJwt) {
  FakeModelServer model;
  std::string dir = freshDir("auth");
  EVP_PKEY* key = EVP_RSA_gen(2048);
  ASSERT_NE(key, nullptr);
  std::string pem_path = dir + "/jwt.pub.pem";
  FILE* f = std::fopen(pem_path.c_str(), "w");
  PEM_write_PUBKEY(f, key);
  std::fclose(f);
  Server s(baseConfig(model, 0,
                      "[server.auth]\napi_keys = [\"admin-key-123\", \"read:reader-key-1\"]\n"
                      "[server.auth.jwt]\nhs256_secret = \"jwt-secret-xyz\"\n"
                      "rs256_public_key_file = \"" +
                          pem_path +
                          "\"\n"
                          "issuer = \"agentd-tests\"\naudience = \"agentd\"\n"));
  ASSERT_TRUE(s.ok()) << s.proc().stderrText();
  long now = static_cast<long>(std::time(nullptr));
  auto claims = [&](const std::string& roles, long exp, const std::string& iss = "agentd-tests",
                    const std::string& aud = "agentd") {
    return "{\"sub\":\"alice\",\"iss\":\"" + iss + "\",\"aud\":\"" + aud +
           "\",\"exp\":" + std::to_string(exp) + ",\"roles\":" + roles + "}";
  };
  auto bearer = [](const std::string& t) { return "Authorization: Bearer " + t; };

  // Probes never need credentials.
  EXPECT_EQ(s.get("/livez").code, 200);
  EXPECT_EQ(s.get("/readyz").code, 200);
  // Missing, wrong.
  HttpResponse r = s.get("/api/tasks");
  EXPECT_EQ(r.code, 401);
  EXPECT_EQ(r.header("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(s.get("/api/tasks", {bearer("wrong-key-999")}).code, 401);
  EXPECT_EQ(s.get("/api/tasks", {"X-API-Key: wrong-key-999"}).code, 401);
  EXPECT_EQ(s.post("/admin/reload", "").code, 401);
  // API keys and their roles.
  EXPECT_EQ(s.get("/api/tasks", {bearer("admin-key-123")}).code, 200);
  EXPECT_EQ(s.get("/api/tasks", {"X-API-Key: reader-key-1"}).code, 200);
  r = s.post("/api/run", R"({"task":"x"})", {"X-API-Key: reader-key-1"});
  EXPECT_EQ(r.code, 403) << r.body;
  EXPECT_NE(r.body.find("run role"), std::string::npos) << r.body;
  EXPECT_EQ(s.post("/api/run", R"({"task":"x"})", {bearer("admin-key-123")}).code, 202);
  // HS256 tokens.
  EXPECT_EQ(
      s.get("/api/tasks", {bearer(hs256(claims(R"(["read"])", now + 600), "jwt-secret-xyz"))}).code,
      200);
  r = s.get("/api/tasks", {bearer(hs256(claims(R"(["read"])", now - 600), "jwt-secret-xyz"))});
  EXPECT_EQ(r.code, 401);
  EXPECT_NE(r.body.find("expired"), std::string::npos) << r.body;
  r = s.get("/api/tasks", {bearer(hs256(claims(R"(["read"])", now + 600), "other-secret"))});
  EXPECT_EQ(r.code, 401);
  EXPECT_NE(r.body.find("bad signature"), std::string::npos) << r.body;
  r = s.get("/api/tasks",
            {bearer(hs256(claims(R"(["read"])", now + 600, "evil"), "jwt-secret-xyz"))});
  EXPECT_NE(r.body.find("wrong issuer"), std::string::npos) << r.body;
  r = s.get(
      "/api/tasks",
      {bearer(hs256(claims(R"(["read"])", now + 600, "agentd-tests", "other"), "jwt-secret-xyz"))});
  EXPECT_NE(r.body.find("wrong audience"), std::string::npos) << r.body;
  r = s.post("/admin/reload", "",
             {bearer(hs256(claims(R"(["run"])", now + 600), "jwt-secret-xyz"))});
  EXPECT_EQ(r.code, 403) << "run is not admin: " << r.body;
  r = s.post("/admin/reload", "",
             {bearer(hs256(claims(R"("read admin")", now + 600), "jwt-secret-xyz"))});
  EXPECT_EQ(r.code, 200) << r.body;
  // A token that never expires is refused.
  r = s.get("/api/tasks",
            {bearer(hs256(R"({"sub":"bob","iss":"agentd-tests","aud":"agentd","roles":["read"]})",
                          "jwt-secret-xyz"))});
  EXPECT_EQ(r.code, 401);
  EXPECT_NE(r.body.find("exp claim is required"), std::string::npos) << r.body;
  // An unsigned token is refused.
  std::string none = server::base64UrlEncode(R"({"alg":"none"})") + "." +
                     server::base64UrlEncode(claims(R"(["admin"])", now + 600)) + ".";
  EXPECT_EQ(s.get("/api/tasks", {bearer(none)}).code, 401);
  // RS256 tokens.
  EXPECT_EQ(
      s.post("/api/run", R"({"task":"x"})", {bearer(rs256(claims(R"(["run"])", now + 600), key))})
          .code,
      202);
  EVP_PKEY* other = EVP_RSA_gen(2048);
  EXPECT_EQ(s.get("/api/tasks", {bearer(rs256(claims(R"(["read"])", now + 600), other))}).code,
            401);
  EVP_PKEY_free(other);
  EVP_PKEY_free(key);
}

TEST(ServerApi, CorsForConfiguredOrigins) {
  FakeModelServer model;
  Server s(baseConfig(model, 0, "cors_origins = [\"http://app.example.invalid\"]\n"));
  ASSERT_TRUE(s.ok());
  HttpResponse r = s.get("/api/tasks", {"Origin: http://app.example.invalid"});
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "http://app.example.invalid");
  r = s.get("/api/tasks", {"Origin: http://other.example.invalid"});
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "");
  r = httpRequest("OPTIONS", s.url("/api/run"), "",
                  {"Origin: http://app.example.invalid", "Access-Control-Request-Method: POST"});
  EXPECT_EQ(r.code, 204);
  EXPECT_NE(r.header("Access-Control-Allow-Methods").find("POST"), std::string::npos);
}

TEST(ServerApi, ChatSessionsAndStreaming) {
  FakeModelServer model;
  Server s(baseConfig(model));
  ASSERT_TRUE(s.ok());
  HttpResponse r = s.post("/v1/chat", R"({"message":"first question"})");
  ASSERT_EQ(r.code, 200) << r.body;
  auto d = json::parse(r.body);
  EXPECT_STREQ((*d)["reply"].GetString(), "echo: first question");
  std::string session = (*d)["session_id"].GetString();
  r = s.post("/v1/chat", "{\"message\":\"second\",\"session_id\":\"" + session + "\"}");
  ASSERT_EQ(r.code, 200);
  // The second call carried the first turn.
  auto last = model.attempts("default");
  EXPECT_NE(last.last_body.find("first question"), std::string::npos) << last.last_body;
  EXPECT_NE(last.last_body.find("echo: first question"), std::string::npos);

  auto events = readSse(s.url("/v1/chat/stream"), {}, 20000, R"({"message":"stream me"})", "POST");
  ASSERT_GE(events.size(), 3u);
  std::string text;
  for (const auto& e : events) {
    if (e.event == "delta") text += (*json::parse(e.data))["text"].GetString();
  }
  EXPECT_EQ(text, "echo: stream me");
  EXPECT_EQ(events[events.size() - 2].event, "done");
  EXPECT_EQ(events.back().event, "end");

  // With tools: an agent run.
  r = s.post("/v1/chat", R"({"message":"use tools","use_tools":true})");
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_NE(r.body.find("tool results:"), std::string::npos) << r.body;
  EXPECT_EQ(s.post("/v1/chat", R"({"message":""})").code, 400);
  EXPECT_EQ(s.post("/v1/chat", R"({"message":"x","agent":"nobody"})").code, 404);
}

TEST(ServerApi, AdminReloadReportsItsOutcome) {
  FakeModelServer model;
  Server s(baseConfig(model));
  ASSERT_TRUE(s.ok());
  HttpResponse r = s.post("/admin/reload", "");
  EXPECT_EQ(r.code, 200);
  EXPECT_NE(r.body.find("\"result\":\"noop\""), std::string::npos) << r.body;
  writeFile(s.dir() + "/agentd.toml", baseConfig(model) + "[agents.second]\nmodel = \"m\"\n");
  r = s.post("/admin/reload", "");
  // The watcher may have applied it first: then this is a no-op.
  EXPECT_EQ(r.code, 200) << r.body;
  EXPECT_NE(s.get("/api/agents").body.find("\"name\":\"second\""), std::string::npos);
  writeFile(s.dir() + "/agentd.toml", "[agents\n");
  r = s.post("/admin/reload", "");
  EXPECT_EQ(r.code, 400) << r.body;
  EXPECT_NE(r.body.find("\"result\":\"failure\""), std::string::npos) << r.body;
  EXPECT_EQ(s.get("/readyz").code, 200) << "a failed reload does not make agentd unready";
}

// SIGTERM with tasks in flight: not ready at once, new tasks refused, running ones finish within
// the grace period, SSE clients get `end`, exit 0.
TEST(ServerShutdown, SigtermLetsRunningTasksFinish) {
  FakeModelServer model;
  Server s(baseConfig(model, /*latency_ms=*/400));
  ASSERT_TRUE(s.ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(s.run());
  for (const auto& id : ids) ASSERT_FALSE(id.empty());
  std::vector<std::vector<SseEvent>> streams(ids.size());
  std::vector<std::thread> readers;
  for (size_t i = 0; i < ids.size(); ++i) {
    readers.emplace_back(
        [&, i] { streams[i] = readSse(s.url("/api/tasks/" + ids[i] + "/stream")); });
  }
  std::this_thread::sleep_for(200ms);
  auto t0 = std::chrono::steady_clock::now();
  s.proc().signal(SIGTERM);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(s.get("/readyz").code, 503);
  EXPECT_EQ(s.post("/api/run", R"({"task":"late"})").code, 503);
  EXPECT_EQ(s.get("/livez").code, 200) << "alive while draining";
  EXPECT_EQ(s.proc().wait(15s), 0) << s.proc().stderrText();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  for (auto& t : readers) t.join();
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_FALSE(streams[i].empty()) << ids[i];
    EXPECT_EQ(streams[i].back().event, "end");
    EXPECT_NE(streams[i].back().data.find("\"state\":\"completed\""), std::string::npos)
        << streams[i].back().data;
  }
}

TEST(ServerShutdown, GracePeriodOverInterruptsTasksAndSecondSignalExitsAtOnce) {
  FakeModelServer model;
  std::string text = baseConfig(model, /*latency_ms=*/5000);
  text.replace(text.find("shutdown_grace_seconds = 10"), 27, "shutdown_grace_seconds = 1");
  Server s(text);
  ASSERT_TRUE(s.ok());
  std::string id =
      s.run(R"({"task":"slow","trajectory_file":"t.json","working_dir":")" + s.dir() + R"("})");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(s.waitState(id, {"running"}), "running");
  std::vector<SseEvent> events;
  std::thread reader([&] { events = readSse(s.url("/api/tasks/" + id + "/stream")); });
  std::this_thread::sleep_for(100ms);
  s.proc().signal(SIGTERM);
  EXPECT_EQ(s.proc().wait(10s), 0) << s.proc().stderrText();
  reader.join();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().event, "end");
  EXPECT_NE(events.back().data.find("interrupted"), std::string::npos) << events.back().data;
  // Its trajectory was flushed.
  auto traj = json::parse([&] {
    std::ifstream in(s.dir() + "/t.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }());
  ASSERT_TRUE(traj.ok());
  EXPECT_FALSE((*traj)["success"].GetBool());

  // A second signal does not wait.
  FakeModelServer model2;
  Server s2(baseConfig(model2, 5000));
  ASSERT_TRUE(s2.ok());
  ASSERT_FALSE(s2.run().empty());
  std::this_thread::sleep_for(100ms);
  s2.proc().signal(SIGTERM);
  std::this_thread::sleep_for(100ms);
  auto t0 = std::chrono::steady_clock::now();
  s2.proc().signal(SIGTERM);
  EXPECT_EQ(s2.proc().wait(5s), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

}  // namespace
}  // namespace agentd::testing
