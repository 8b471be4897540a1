// HttpClient with external_loop, driven from an io_context by agent/http_pump.h against the fake
// model server: transfers and timers complete on the io thread, the client adds no thread, work
// started from another thread still arrives, a first-byte timeout fires through the pump's timer,
// and destroying the client (or an LlmClient with a call in flight) ends the pump.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <optional>
#include <thread>

#include "agent/http_pump.h"
#include "llm/client.h"
#include "llm/http_client.h"
#include "support/fake_model_server.h"

namespace agentd::llm {
namespace {

namespace asio = boost::asio;
using agentd::testing::FakeModelServer;
using agentd::testing::threadCount;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

HttpRequest post(const FakeModelServer& s, std::vector<std::pair<std::string, std::string>> h) {
  HttpRequest r;
  r.url = s.openAiBase() + "/chat/completions";
  r.body = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
  r.headers = std::move(h);
  r.headers.emplace_back("Content-Type", "application/json");
  r.first_byte_timeout = 10s;
  r.total_timeout = 20s;
  return r;
}

std::unique_ptr<HttpClient> externalClient() {
  HttpClient::Options o;
  o.external_loop = true;
  auto c = HttpClient::create(o);
  EXPECT_TRUE(c.ok());
  return c.ok() ? std::move(c).value() : nullptr;
}

class HttpPumpTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()) << server_.stderrText(); }
  // Runs io on this thread until it runs out of work; fails after limit.
  void runIo(std::chrono::seconds limit = 20s) {
    auto start = Clock::now();
    io_.run_for(limit);
    EXPECT_TRUE(io_.stopped()) << "io still had work after " << limit.count() << " s";
    EXPECT_LT(Clock::now() - start, limit);
  }
  FakeModelServer server_;
  asio::io_context io_;
};

TEST_F(HttpPumpTest, TransfersCompleteOnTheIoThreadWithoutAThreadOfTheirOwn) {
  int threads_before = threadCount();
  auto client = externalClient();
  ASSERT_NE(client, nullptr);
  EXPECT_NE(client->loop(), nullptr);
  EXPECT_EQ(threadCount(), threads_before);
  agent::driveOnIo(io_, client->loop());
  const std::thread::id io_thread = std::this_thread::get_id();
  int done = 0;
  bool all_on_io = true;
  // Ten transfers one after another, each started from the previous one's completion.
  std::function<void()> next = [&] {
    HttpCallbacks cb;
    cb.on_done = [&](HttpResult r) {
      EXPECT_EQ(r.error, TransportError::kNone) << r.error_message;
      EXPECT_EQ(r.status, 200);
      all_on_io = all_on_io && std::this_thread::get_id() == io_thread;
      if (++done < 10) {
        asio::post(io_, next);
      } else {
        asio::post(io_, [&] { client.reset(); });  // ends the pump, so io runs out of work
      }
    };
    client->start(post(server_, {{"x-fake-key", "pump-seq"}}), std::move(cb));
  };
  asio::post(io_, next);
  runIo();
  EXPECT_EQ(done, 10);
  EXPECT_TRUE(all_on_io);
  EXPECT_EQ(client, nullptr);
  EXPECT_EQ(server_.attempts("pump-seq").count, 10);
}

TEST_F(HttpPumpTest, WorkFromAnotherThreadAndTimersArriveThroughThePump) {
  auto client = externalClient();
  ASSERT_NE(client, nullptr);
  agent::driveOnIo(io_, client->loop());
  const std::thread::id io_thread = std::this_thread::get_id();
  std::atomic<int> left{3};
  std::atomic<bool> on_io{true};
  auto finished = [&] {
    on_io = on_io && std::this_thread::get_id() == io_thread;
    if (--left == 0) asio::post(io_, [&] { client.reset(); });
  };
  auto started = Clock::now();
  Clock::duration timer_after{};
  std::thread other([&] {
    HttpCallbacks cb;
    cb.on_done = [&](HttpResult r) {
      EXPECT_EQ(r.status, 200) << r.error_message;
      finished();
    };
    client->start(post(server_, {{"x-fake-key", "pump-other"}}), std::move(cb));
    client->runAfter(60ms, [&] {
      timer_after = Clock::now() - started;
      finished();
    });
  });
  other.join();
  // A server that never answers: the first-byte timeout is the pump's timer, nothing else wakes.
  HttpRequest hang = post(server_, {{"x-fake-key", "pump-hang"}, {"x-fake-faults", "hang"}});
  hang.first_byte_timeout = 150ms;
  HttpCallbacks cb;
  cb.on_done = [&](HttpResult r) {
    EXPECT_EQ(r.error, TransportError::kTimeout) << r.error_message;
    finished();
  };
  client->start(std::move(hang), std::move(cb));
  runIo();
  EXPECT_EQ(left.load(), 0);
  EXPECT_TRUE(on_io.load());
  EXPECT_GE(timer_after, 60ms);
}

TEST_F(HttpPumpTest, DestroyingAModelClientCancelsItsCallsAndEndsThePump) {
  ProviderOptions p;
  p.name = "fake";
  p.type = "openai";
  p.base_url = server_.openAiBase();
  p.api_key = "k";
  p.headers = {{"x-fake-key", "pump-llm"}, {"x-fake-faults", "hang"}};
  ModelOptions m;
  m.name = "m";
  m.provider = "fake";
  m.model = "fake-model";
  LlmClient::Options o;
  o.http.external_loop = true;
  auto made = LlmClient::create({p}, {m}, o);
  ASSERT_TRUE(made.ok()) << made.status().message();
  std::unique_ptr<LlmClient> client = std::move(made).value();
  agent::driveOnIo(io_, client->http().loop());
  std::optional<Result<ChatResponse>> result;
  ChatRequest req;
  req.messages.push_back(Message::user("hi"));
  client->chatAsync("m", std::move(req), {},
                    [&](Result<ChatResponse> r) { result.emplace(std::move(r)); });
  // Once the request reached the server, destroy the client on the io thread (outside drive()).
  std::function<void()> wait_then_destroy = [&] {
    if (server_.attempts("pump-llm").count == 0) {
      asio::post(io_, wait_then_destroy);
      std::this_thread::sleep_for(5ms);
      return;
    }
    client.reset();
  };
  asio::post(io_, wait_then_destroy);
  runIo();
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(result->ok());
  EXPECT_EQ(result->status().code(), Status::Code::kCancelled) << result->status().message();
}

}  // namespace
}  // namespace agentd::llm
