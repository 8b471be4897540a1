// Retry, backoff, Retry-After, streaming rules, circuit breaker, fallback, cache, cancellation and
// concurrency, all against injected faults of the fake server; attempts are counted server-side.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "integration/llm/llm_fixture.h"
#include "support/subprocess.h"

namespace agentd::llm {
namespace {

using agentd::testing::threadCount;
using namespace std::chrono_literals;
using testutil::metric;
using testutil::userRequest;
using Clock = std::chrono::steady_clock;

// Milliseconds between the first two arrivals of key at the server.
double firstGap(const agentd::testing::FakeModelServer& s, const std::string& key) {
  auto a = s.attempts(key);
  return a.arrivals_ms.size() >= 2 ? a.arrivals_ms[1] - a.arrivals_ms[0] : -1;
}

class ResilienceTest : public LlmServerTest {
 protected:
  // One model "m" on one provider with the given faults.
  std::unique_ptr<LlmClient> single(const std::string& type, const std::string& key,
                                    const std::string& faults, int attempts = 3) {
    ProviderOptions p = provider("p_" + key, type, key, faults);
    p.retry.max_attempts = attempts;
    return client({p}, {model("m", p.name)});
  }
};

TEST_F(ResilienceTest, RetryableStatusesAreRetriedUntilSuccess) {
  for (int status : {408, 429, 500, 502, 503, 504, 529}) {
    std::string s = std::to_string(status);
    std::string key = "r" + s;
    double before =
        metric("agentd_llm_retries_total{provider=\"p_" + key + "\",reason=\"" + s + "\"}");
    auto c = single(status % 2 ? "anthropic" : "openai", key, s + "," + s);
    ASSERT_TRUE(c);
    auto r = c->chat("m", userRequest("hello"));
    ASSERT_TRUE(r.ok()) << s << ": " << r.status().toString();
    EXPECT_EQ(r->content, "echo: hello");
    EXPECT_EQ(server_.attempts(key).count, 3) << s;
    EXPECT_EQ(metric("agentd_llm_retries_total{provider=\"p_" + key + "\",reason=\"" + s + "\"}") -
                  before,
              2)
        << s;
  }
}

TEST_F(ResilienceTest, NonRetryableStatusesFailOnTheFirstAttempt) {
  for (int status : {400, 401, 403, 404, 422}) {
    std::string key = "n" + std::to_string(status);
    auto c = single("openai", key, std::to_string(status) + "*", 5);
    ASSERT_TRUE(c);
    auto r = c->chat("m", userRequest("x"));
    ASSERT_FALSE(r.ok()) << status;
    EXPECT_NE(r.status().message().find("HTTP " + std::to_string(status)), std::string::npos)
        << r.status().message();
    EXPECT_EQ(server_.attempts(key).count, 1) << status;
  }
  auto c = single("openai", "auth", "401*", 5);
  EXPECT_EQ(c->chat("m", userRequest("x")).status().code(), Status::Code::kFailedPrecondition);
}

TEST_F(ResilienceTest, RetryAfterSecondsIsHonoured) {
  auto c = single("openai", "ra", "429:ra=1");
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->chat("m", userRequest("x")).ok());
  double gap = firstGap(server_, "ra");
  EXPECT_GE(gap, 950);
  EXPECT_LE(gap, 1600);
}

TEST_F(ResilienceTest, RetryAfterHttpDateIsHonoured) {
  // The date has whole seconds: 2 s ahead, truncated, is a wait in (1 s, 2 s].
  auto c = single("anthropic", "date", "503:date=2");
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->chat("m", userRequest("x")).ok());
  double gap = firstGap(server_, "date");
  EXPECT_GE(gap, 900);
  EXPECT_LE(gap, 2600);
}

TEST_F(ResilienceTest, RetryAfterMsIsHonoured) {
  auto c = single("openai", "ms", "529:ms=400");
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->chat("m", userRequest("x")).ok());
  double gap = firstGap(server_, "ms");
  EXPECT_GE(gap, 380);
  EXPECT_LE(gap, 1000);
}

TEST_F(ResilienceTest, RetryAfterBeyondTheBudgetGivesUpAtOnce) {
  ProviderOptions p = provider("budget", "openai", "budget", "429:ra=30");
  p.retry.max_elapsed = 2s;
  auto c = client({p}, {model("m", "budget")});
  auto start = Clock::now();
  auto r = c->chat("m", userRequest("x"));
  EXPECT_LT(Clock::now() - start, 1500ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(r.status().message().find("asked to wait 30000 ms"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(server_.attempts("budget").count, 1);
}

TEST_F(ResilienceTest, BackoffIsBoundedByAttempts) {
  ProviderOptions p = provider("att", "openai", "att", "503*");
  p.retry.max_attempts = 4;
  p.retry.base_backoff = 40ms;
  p.retry.max_backoff = 80ms;
  auto c = client({p}, {model("m", "att")});
  auto start = Clock::now();
  auto r = c->chat("m", userRequest("x"));
  auto took = Clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("gave up after 4 attempts"), std::string::npos)
      << r.status().message();
  auto a = server_.attempts("att");
  ASSERT_EQ(a.count, 4);
  // Full jitter: each wait lies in [0, min(80, 40 * 2^n)] ms (+ request time and slack).
  const double caps[] = {40, 80, 80};
  for (int i = 0; i < 3; ++i) {
    EXPECT_LE(a.arrivals_ms[i + 1] - a.arrivals_ms[i], caps[i] + 150) << "wait " << i;
  }
  EXPECT_LT(took, 2s);
}

TEST_F(ResilienceTest, BackoffIsBoundedByElapsedTime) {
  ProviderOptions p = provider("el", "openai", "el", "503*");
  p.retry.max_attempts = 1000;
  p.retry.base_backoff = 100ms;
  p.retry.max_backoff = 200ms;
  p.retry.max_elapsed = 700ms;
  p.breaker.failure_threshold = 1000;
  auto c = client({p}, {model("m", "el")});
  auto start = Clock::now();
  auto r = c->chat("m", userRequest("x"));
  auto took = Clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("retry budget of 700 ms"), std::string::npos)
      << r.status().message();
  EXPECT_LT(took, 1500ms);
  int n = server_.attempts("el").count;
  EXPECT_GE(n, 2);
  EXPECT_LT(n, 100);
}

TEST_F(ResilienceTest, CircuitOpeningDuringRetriesEndsThem) {
  ProviderOptions p = provider("trip", "openai", "trip", "503*");
  p.retry.max_attempts = 10;
  p.breaker.failure_threshold = 3;
  auto c = client({p}, {model("m", "trip")});
  auto r = c->chat("m", userRequest("x"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("circuit opened while retrying"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(server_.attempts("trip").count, 3);
  EXPECT_EQ(c->circuitState("trip"), CircuitState::kOpen);
}

TEST_F(ResilienceTest, TransportFaultsAreRetried) {
  struct Case {
    const char* fault;
    const char* reason;
  };
  for (Case k :
       {Case{"reset", "reset"}, Case{"truncate", "truncated"}, Case{"slow=3000", "timeout"}}) {
    std::string key = std::string("tf_") + k.reason;
    ProviderOptions p = provider(key, "openai", key, k.fault);
    p.first_byte_timeout = 300ms;
    double before =
        metric("agentd_llm_retries_total{provider=\"" + key + "\",reason=\"" + k.reason + "\"}");
    auto c = client({p}, {model("m", key)});
    auto r = c->chat("m", userRequest("again"));
    ASSERT_TRUE(r.ok()) << k.fault << ": " << r.status().toString();
    EXPECT_EQ(server_.attempts(key).count, 2) << k.fault;
    EXPECT_EQ(
        metric("agentd_llm_retries_total{provider=\"" + key + "\",reason=\"" + k.reason + "\"}") -
            before,
        1)
        << k.fault;
  }
}

TEST_F(ResilienceTest, SlowFirstByteTimesOutEveryAttempt) {
  ProviderOptions p = provider("slow", "anthropic", "slow", "slow=2000*");
  p.first_byte_timeout = 200ms;
  p.retry.max_attempts = 2;
  auto c = client({p}, {model("m", "slow")});
  auto start = Clock::now();
  auto r = c->chat("m", userRequest("x"));
  EXPECT_EQ(r.status().code(), Status::Code::kDeadlineExceeded) << r.status().toString();
  EXPECT_LT(Clock::now() - start, 1500ms);
  EXPECT_EQ(server_.attempts("slow").count, 2);
}

TEST_F(ResilienceTest, MalformedJsonIsNotRetried) {
  for (const char* type : {"openai", "anthropic"}) {
    std::string key = std::string("bad_") + type;
    auto c = single(type, key, "malformed*");
    auto r = c->chat("m", userRequest("x"));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("malformed response"), std::string::npos)
        << r.status().message();
    EXPECT_EQ(server_.attempts(key).count, 1) << type;
    std::string skey = key + "_stream";
    auto cs = single(type, skey, "malformed*");
    CallOptions o;
    o.on_delta = [](const StreamDelta&) {};
    auto rs = cs->chat("m", userRequest("x"), o);
    ASSERT_FALSE(rs.ok());
    EXPECT_NE(rs.status().message().find("malformed stream"), std::string::npos)
        << rs.status().message();
    EXPECT_EQ(server_.attempts(skey).count, 1) << type;
  }
}

TEST_F(ResilienceTest, StreamFailureAfterOutputIsNotReplayed) {
  for (const char* fault : {"stream_reset", "truncate"}) {
    for (const char* type : {"openai", "anthropic"}) {
      std::string key = std::string(fault) + "_" + type;
      ProviderOptions p = provider(key, type, key, fault);
      ProviderOptions spare = provider(key + "_spare", "openai", key + "_spare");
      auto c = client({p, spare}, {model("m", key, {"spare"}), model("spare", key + "_spare")});
      std::string text;
      CallOptions o;
      o.on_delta = [&](const StreamDelta& d) { text += d.text; };
      auto r = c->chat("m", userRequest("one two three four five six seven eight"), o);
      ASSERT_FALSE(r.ok()) << key;
      EXPECT_FALSE(text.empty()) << key << ": output reached the caller first";
      EXPECT_NE(r.status().message().find("already delivered"), std::string::npos)
          << r.status().message();
      EXPECT_EQ(server_.attempts(key).count, 1) << key << ": not retried";
      EXPECT_EQ(server_.attempts(key + "_spare").count, 0) << key << ": no fallback either";
    }
  }
}

TEST_F(ResilienceTest, StreamErrorBeforeOutputIsRetried) {
  auto c = single("anthropic", "overloaded", "stream_error");
  std::string text;
  CallOptions o;
  o.on_delta = [&](const StreamDelta& d) { text += d.text; };
  double before = metric("agentd_llm_retries_total{provider=\"p_overloaded\",reason=\"529\"}");
  auto r = c->chat("m", userRequest("hi"), o);
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(text, "echo: hi") << "only the successful attempt produced output";
  EXPECT_EQ(server_.attempts("overloaded").count, 2);
  EXPECT_EQ(metric("agentd_llm_retries_total{provider=\"p_overloaded\",reason=\"529\"}") - before,
            1);
}

TEST_F(ResilienceTest, BreakerOpensFallsBackAndRecovers) {
  ProviderOptions primary = provider("primary", "openai", "primary", "503*");
  primary.retry.max_attempts = 1;
  primary.breaker.failure_threshold = 2;
  primary.breaker.open_duration = 500ms;
  ProviderOptions backup = provider("backup", "anthropic", "backup");
  auto c =
      client({primary, backup}, {model("main", "primary", {"spare"}), model("spare", "backup")});
  ASSERT_TRUE(c);
  for (int i = 0; i < 2; ++i) {
    auto r = c->chat("main", userRequest("q"));
    ASSERT_TRUE(r.ok()) << r.status().toString();
    EXPECT_EQ(r->provider, "backup") << "exhausted primary falls back";
  }
  EXPECT_EQ(c->circuitState("primary"), CircuitState::kOpen);
  EXPECT_EQ(metric("agentd_llm_circuit_state{provider=\"primary\"}"), 1);
  auto r3 = c->chat("main", userRequest("q"));
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->provider, "backup");
  EXPECT_EQ(server_.attempts("primary").count, 2) << "an open circuit sends nothing";
  EXPECT_EQ(server_.attempts("backup").count, 3);

  // The endpoint heals; after the open period one probe closes the circuit.
  {
    // The control endpoint's list replaces the x-fake-faults header: no more faults.
    auto http = HttpClient::create();
    ASSERT_TRUE(http.ok());
    HttpRequest req;
    req.url = server_.url() + "/_control/faults";
    req.body = R"({"key":"primary","faults":[]})";
    std::promise<long> done;
    HttpCallbacks cb;
    cb.on_done = [&](HttpResult r) { done.set_value(r.status); };
    (*http)->start(req, cb);
    ASSERT_EQ(done.get_future().get(), 200);
  }
  std::this_thread::sleep_for(600ms);
  auto r4 = c->chat("main", userRequest("q"));
  ASSERT_TRUE(r4.ok()) << r4.status().toString();
  EXPECT_EQ(r4->provider, "primary");
  EXPECT_EQ(c->circuitState("primary"), CircuitState::kClosed);
  EXPECT_EQ(metric("agentd_llm_circuit_state{provider=\"primary\"}"), 0);
  EXPECT_EQ(server_.attempts("primary").count, 3);
}

TEST_F(ResilienceTest, NoFallbackOnAuthFailure) {
  ProviderOptions primary = provider("primary", "openai", "a401", "401*");
  ProviderOptions backup = provider("backup", "openai", "b401");
  auto c =
      client({primary, backup}, {model("main", "primary", {"spare"}), model("spare", "backup")});
  auto r = c->chat("main", userRequest("q"));
  EXPECT_EQ(r.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(server_.attempts("a401").count, 1);
  EXPECT_EQ(server_.attempts("b401").count, 0);
}

TEST_F(ResilienceTest, CacheAvoidsTheSecondRequest) {
  ProviderOptions p = provider("cp", "anthropic", "cache");
  ModelOptions m = model("m", "cp");
  m.cache.enabled = true;
  auto c = client({p}, {m});
  auto a = c->chat("m", userRequest("same"));
  auto b = c->chat("m", userRequest("same"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(a->cached);
  EXPECT_TRUE(b->cached);
  EXPECT_EQ(a->content, b->content);
  EXPECT_EQ(server_.attempts("cache").count, 1);
  ASSERT_TRUE(c->chat("m", userRequest("different")).ok());
  EXPECT_EQ(server_.attempts("cache").count, 2);
}

TEST_F(ResilienceTest, CancelInFlightAndDuringBackoff) {
  for (const char* faults : {"hang", "503:ra=10"}) {
    std::string key = std::string("cancel_") + (faults[0] == 'h' ? "hang" : "wait");
    auto c = single("openai", key, faults);
    const std::string series =
        "agentd_gen_ai_client_operation_duration_seconds_count{model=\"m-id\",provider=\"p_" + key +
        "\",status=\"cancelled\"}";
    std::promise<Status> done;
    auto h = c->chatAsync("m", userRequest("x"), {},
                          [&](Result<ChatResponse> r) { done.set_value(r.status()); });
    for (int i = 0; i < 100 && server_.attempts(key).count == 0; ++i) {
      std::this_thread::sleep_for(20ms);
    }
    std::this_thread::sleep_for(100ms);
    auto start = Clock::now();
    h.cancel();
    auto f = done.get_future();
    ASSERT_EQ(f.wait_for(2s), std::future_status::ready) << faults;
    EXPECT_EQ(f.get().code(), Status::Code::kCancelled) << faults;
    EXPECT_LT(Clock::now() - start, 1s);
    EXPECT_EQ(server_.attempts(key).count, 1) << faults;
    EXPECT_EQ(c->http().activeTransfers(), 0u);
    EXPECT_EQ(metric(series), 1) << faults;
  }
}

TEST_F(ResilienceTest, CallTimeoutCoversRetries) {
  auto c = single("openai", "deadline", "503:ra=5");
  CallOptions o;
  o.timeout = 300ms;
  auto start = Clock::now();
  auto r = c->chat("m", userRequest("x"), o);
  EXPECT_EQ(r.status().code(), Status::Code::kDeadlineExceeded);
  EXPECT_LT(Clock::now() - start, 1500ms);
}

TEST_F(ResilienceTest, TwoHundredStreamingCallsShareOneEventThread) {
  constexpr int kCalls = 200;
  ProviderOptions p = provider("many", "anthropic", "many");
  p.headers.emplace_back("x-fake-latency-ms", "250");
  auto c = client({p}, {model("m", "many")});
  int before = threadCount();
  std::atomic<int> ok{0}, finished{0}, deltas{0};
  std::promise<void> all;
  auto start = Clock::now();
  for (int i = 0; i < kCalls; ++i) {
    CallOptions o;
    o.on_delta = [&](const StreamDelta&) { ++deltas; };
    c->chatAsync("m", userRequest("n" + std::to_string(i)), o, [&](Result<ChatResponse> r) {
      if (r.ok() && r->content.rfind("echo: n", 0) == 0) ++ok;
      if (++finished == kCalls) all.set_value();
    });
  }
  std::this_thread::sleep_for(100ms);
  int during = threadCount();
  ASSERT_EQ(all.get_future().wait_for(30s), std::future_status::ready);
  EXPECT_EQ(ok.load(), kCalls);
  EXPECT_GE(deltas.load(), kCalls);
  EXPECT_EQ(during, before);
  EXPECT_LT(Clock::now() - start, 10s) << "sequentially this would take 50 s";
}

}  // namespace
}  // namespace agentd::llm
