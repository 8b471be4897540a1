// HttpClient against the fake model server: keep-alive reuse, connect / first-byte / total
// timeouts, transport error classes, cancellation, timers, and many transfers on one thread.
// Every test runs twice: on the client's own loopback HTTP/1.1 path and on libcurl.
#include "llm/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <future>
#include <thread>

#include "support/fake_model_server.h"
#include "support/ports.h"

namespace agentd::llm {
namespace {

using agentd::testing::FakeModelServer;
using agentd::testing::threadCount;
using agentd::testing::unusedLoopbackPort;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kBody = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";

HttpRequest post(const FakeModelServer& s,
                 std::vector<std::pair<std::string, std::string>> h = {}) {
  HttpRequest r;
  r.url = s.openAiBase() + "/chat/completions";
  r.body = kBody;
  r.headers = std::move(h);
  r.headers.emplace_back("Content-Type", "application/json");
  r.first_byte_timeout = 10s;
  r.total_timeout = 20s;
  return r;
}

HttpResult perform(HttpClient& c, HttpRequest req, HttpCallbacks cb = {}) {
  auto p = std::make_shared<std::promise<HttpResult>>();
  auto f = p->get_future();
  cb.on_done = [p](HttpResult r) { p->set_value(std::move(r)); };
  c.start(std::move(req), std::move(cb));
  if (f.wait_for(30s) != std::future_status::ready) {
    ADD_FAILURE() << "transfer did not finish within 30 s";
    return {};
  }
  return f.get();
}

// n copies of one request started at once; counts the 200 answers.
struct Batch {
  Batch(HttpClient& c, int n, const HttpRequest& req) : calls(n) {
    for (int i = 0; i < n; ++i) {
      HttpCallbacks cb;
      cb.on_done = [this](HttpResult r) {
        if (r.error == TransportError::kNone && r.status == 200) ++ok;
        if (++finished == calls) all.set_value();
      };
      c.start(req, std::move(cb));
    }
  }
  // True once every call has ended (within limit).
  bool wait(std::chrono::seconds limit) {
    return all.get_future().wait_for(limit) == std::future_status::ready;
  }
  const int calls;
  std::atomic<int> ok{0}, finished{0};
  std::promise<void> all;
};

// The parameter is Options::loopback_direct.
class HttpClientTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ok()) << server_.stderrText();
    client_ = makeClient(HttpClient::Options{});
    ASSERT_NE(client_, nullptr);
  }
  std::unique_ptr<HttpClient> makeClient(HttpClient::Options o) {
    o.loopback_direct = GetParam();
    auto c = HttpClient::create(o);
    EXPECT_TRUE(c.ok());
    return c.ok() ? std::move(c).value() : nullptr;
  }
  FakeModelServer server_;
  std::unique_ptr<HttpClient> client_;
};

INSTANTIATE_TEST_SUITE_P(Transports, HttpClientTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? std::string("Direct") : std::string("Curl");
                         });

TEST_P(HttpClientTest, KeepAliveReusesOneConnection) {
  for (int i = 0; i < 10; ++i) {
    HttpResult r = perform(*client_, post(server_));
    ASSERT_EQ(r.error, TransportError::kNone) << r.error_message;
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("echo: hi"), std::string::npos);
    EXPECT_EQ(r.headers["content-type"], "application/json");
    EXPECT_EQ(r.new_connections, i == 0 ? 1 : 0) << "request " << i;
  }
  EXPECT_EQ(client_->connectionsOpened(), 1u);
}

// A listener on 127.0.0.1 whose thread runs serve(), one connection at a time. Subclasses call
// start() when constructed and stop() before they are destroyed.
class ScriptedServer {
 public:
  virtual ~ScriptedServer() = default;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/x"; }

 protected:
  void start() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 8) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  void stop() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  virtual void serve() = 0;
  // The next connection, with a 10 s receive timeout; -1 once stopped.
  int acceptOne() {
    int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return -1;
    timeval tv{10, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return c;
  }
  // Reads the next request head from c into *head (the tests send GET: no body); *in keeps
  // what follows.
  static bool readRequest(int c, std::string* in, std::string* head = nullptr) {
    char buf[4096];
    for (;;) {
      size_t end = in->find("\r\n\r\n");
      if (end != std::string::npos) {
        if (head) *head = in->substr(0, end);
        in->erase(0, end + 4);
        return true;
      }
      ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) return false;
      in->append(buf, static_cast<size_t>(n));
    }
  }
  static void answer(int c, const std::string& extra_head = "",
                     const std::string& status = "200 OK", const std::string& body = "ok") {
    std::string resp = "HTTP/1.1 " + status + "\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\n" + extra_head + "\r\n" + body;
    send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// A GET of the server's URL with short timeouts.
HttpRequest getFrom(const ScriptedServer& server) {
  HttpRequest get;
  get.url = server.url();
  get.method = "GET";
  get.first_byte_timeout = 5s;
  get.total_timeout = 10s;
  return get;
}

// Answers say how each connection ends: the first is "Connection: close" (the client closes
// that socket itself), the second keeps the connection open and the server closes it 100 ms
// later (the idle socket turns readable), the rest stay open.
class ClosingServer : public ScriptedServer {
 public:
  ClosingServer() { start(); }
  ~ClosingServer() override { stop(); }

 private:
  void serve() override {
    int answered = 0;
    while (answered < 3) {
      int c = acceptOne();
      if (c < 0) return;
      std::string in;
      while (answered < 3 && readRequest(c, &in)) {
        ++answered;
        answer(c, answered == 1 ? "Connection: close\r\n" : "");
        if (answered == 1) break;
        if (answered == 2) {
          std::this_thread::sleep_for(100ms);
          break;
        }
      }
      close(c);
    }
  }
};

// Its first connection answers one request with keep-alive, then reads the next and closes
// without a byte, as a server does that drops an idle connection just as a request arrives.
// Later connections answer one request each. Counts the requests it read.
class StaleServer : public ScriptedServer {
 public:
  StaleServer() { start(); }
  ~StaleServer() override { stop(); }
  int requests() const { return requests_.load(); }

 private:
  void serve() override {
    for (int conn = 0;; ++conn) {
      int c = acceptOne();
      if (c < 0) return;
      std::string in;
      for (int i = 0; readRequest(c, &in); ++i) {
        ++requests_;
        if (conn == 0 && i == 1) break;
        answer(c);
        if (conn > 0) break;  // one request per later connection: the test needs no more
      }
      close(c);
    }
  }
  std::atomic<int> requests_{0};
};

// Answers its first request with 413 as soon as the head is in, waits 300 ms without reading,
// then reads and drops the body (Content-Length bytes, or until the client closes the
// connection).
// The next request, on that connection or another, gets 200 and its request line is kept:
// a client that pooled the connection with part of the body unsent would have its next
// request taken for body bytes and never answered.
class EarlyAnswerServer : public ScriptedServer {
 public:
  EarlyAnswerServer() { start(); }
  ~EarlyAnswerServer() override { stop(); }
  std::vector<std::string> laterRequests() {
    std::lock_guard<std::mutex> lock(mu_);
    return later_;
  }

 private:
  void serve() override {
    bool first = true;
    for (;;) {
      int c = acceptOne();
      if (c < 0) return;
      std::string in, head;
      while (readRequest(c, &in, &head)) {
        if (first) {
          first = false;
          answer(c, "", "413 Payload Too Large", "");
          // Not reading meanwhile: the client has the answer before it can send the body.
          std::this_thread::sleep_for(300ms);
          size_t at = lower(head).find("content-length:");
          size_t left = at == std::string::npos ? 0 : std::stoul(head.substr(at + 15));
          size_t have = std::min(left, in.size());
          in.erase(0, have);
          left -= have;
          char buf[65536];
          while (left > 0) {
            ssize_t n = recv(c, buf, std::min(left, sizeof buf), 0);
            if (n <= 0) break;
            left -= static_cast<size_t>(n);
          }
          if (left > 0) break;  // the client closed it
          continue;
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          later_.push_back(head.substr(0, head.find("\r\n")));
        }
        answer(c);
        close(c);
        return;  // the test asks for one more: done (so stop() need not wait for a read)
      }
      close(c);
    }
  }
  static std::string lower(std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  }
  std::mutex mu_;
  std::vector<std::string> later_;
};

double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

TEST_P(HttpClientTest, ConnectionsClosedByEitherSideAreLeftCleanly) {
  ClosingServer server;
  HttpRequest get = getFrom(server);
  // 1: the server says Connection: close; curl closes the socket. 2: a new connection, likely
  // on the same descriptor number, is watched afresh.
  for (int i = 0; i < 2; ++i) {
    HttpResult r = perform(*client_, get);
    ASSERT_EQ(r.error, TransportError::kNone) << i << ": " << r.error_message;
    EXPECT_EQ(r.body, "ok");
    EXPECT_EQ(r.new_connections, 1) << i;
  }
  // The server closes the idle connection of request 2: the event loop must not spin on it.
  std::this_thread::sleep_for(200ms);
  double cpu = cpuSeconds();
  std::this_thread::sleep_for(300ms);
  EXPECT_LT(cpuSeconds() - cpu, 0.1) << "the client busy-loops on a closed idle connection";
  // 3: the dead connection is not reused.
  HttpResult r = perform(*client_, get);
  ASSERT_EQ(r.error, TransportError::kNone) << r.error_message;
  EXPECT_EQ(r.body, "ok");
  EXPECT_EQ(r.new_connections, 1);
  EXPECT_EQ(client_->connectionsOpened(), 3u);
}

TEST_P(HttpClientTest, FirstByteTimeout) {
  HttpRequest req = post(server_, {{"x-fake-key", "fb"}, {"x-fake-faults", "slow=3000"}});
  req.first_byte_timeout = 300ms;
  auto start = Clock::now();
  HttpResult r = perform(*client_, std::move(req));
  auto took = Clock::now() - start;
  EXPECT_EQ(r.error, TransportError::kTimeout);
  EXPECT_NE(r.error_message.find("first-byte timeout of 300 ms"), std::string::npos)
      << r.error_message;
  EXPECT_GE(took, 280ms);
  EXPECT_LT(took, 1500ms);
}

TEST_P(HttpClientTest, TotalTimeoutCutsASlowStream) {
  HttpRequest req = post(server_, {{"x-fake-key", "tt"}, {"x-fake-faults", "chunk_delay=300"}});
  req.body =
      R"({"model":"m","stream":true,"messages":[{"role":"user","content":"a b c d e f g h"}]})";
  req.total_timeout = 700ms;
  size_t chunks = 0;
  HttpCallbacks cb;
  cb.on_data = [&](std::string_view) { return ++chunks, true; };
  auto start = Clock::now();
  HttpResult r = perform(*client_, std::move(req), std::move(cb));
  auto took = Clock::now() - start;
  EXPECT_EQ(r.error, TransportError::kTimeout) << r.error_message;
  EXPECT_EQ(r.status, 200) << "the head arrived";
  EXPECT_GT(chunks, 0u);
  EXPECT_GE(took, 650ms);
  EXPECT_LT(took, 2000ms);
}

TEST_P(HttpClientTest, ConnectErrorsAreClassified) {
  // A port nobody listens on: refused at once.
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(unusedLoopbackPort()) + "/v1/chat/completions";
  req.body = kBody;
  HttpResult r = perform(*client_, req);
  EXPECT_EQ(r.error, TransportError::kConnect) << r.error_message;
}

TEST_P(HttpClientTest, ConnectTimeoutWhenTheBacklogIsFull) {
  // A listener that never accepts, with its one-slot accept queue filled: further SYNs are
  // dropped, so the handshake cannot complete and the connect timeout fires.
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(lfd, 0), 0);
  socklen_t len = sizeof a;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  std::vector<int> fillers;
  for (int i = 0; i < 3; ++i) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
    fillers.push_back(c);
  }
  std::this_thread::sleep_for(100ms);
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/v1/chat/completions";
  req.body = kBody;
  req.connect_timeout = 400ms;
  req.first_byte_timeout = 10s;
  auto start = Clock::now();
  HttpResult r = perform(*client_, req);
  auto took = Clock::now() - start;
  for (int c : fillers) close(c);
  close(lfd);
  EXPECT_EQ(r.error, TransportError::kTimeout) << r.error_message;
  EXPECT_GE(took, 350ms);
  EXPECT_LT(took, 3000ms);
}

TEST_P(HttpClientTest, ResetAndTruncationAreClassified) {
  HttpResult reset =
      perform(*client_, post(server_, {{"x-fake-key", "r"}, {"x-fake-faults", "reset"}}));
  EXPECT_EQ(reset.error, TransportError::kReset) << reset.error_message;
  HttpResult cut =
      perform(*client_, post(server_, {{"x-fake-key", "t"}, {"x-fake-faults", "truncate"}}));
  EXPECT_EQ(cut.error, TransportError::kTruncated) << cut.error_message;
  HttpResult fine = perform(*client_, post(server_));
  EXPECT_EQ(fine.error, TransportError::kNone) << "the client recovers on a new connection";
}

TEST_P(HttpClientTest, CancelStopsATransferWithoutCallback) {
  std::atomic<int> done{0};
  HttpCallbacks cb;
  cb.on_done = [&](HttpResult) { ++done; };
  uint64_t id = client_->start(post(server_, {{"x-fake-key", "c"}, {"x-fake-faults", "hang"}}), cb);
  for (int i = 0; i < 100 && server_.attempts("c").count == 0; ++i)
    std::this_thread::sleep_for(20ms);
  ASSERT_EQ(server_.attempts("c").count, 1);
  client_->cancel(id);
  for (int i = 0; i < 100 && client_->activeTransfers() > 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(client_->activeTransfers(), 0u);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(done.load(), 0);
  // The server saw the connection go away.
  int open = -1;
  for (int i = 0; i < 100; ++i) {
    open = server_.stat("open_connections");
    if (open <= 1) break;  // only the stats request itself
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_LE(open, 1);
}

TEST_P(HttpClientTest, TimersFireInOrderAndCancelledOnesDoNot) {
  std::mutex mu;
  std::vector<int> order;
  std::promise<void> last;
  client_->runAfter(60ms, [&] {
    std::lock_guard<std::mutex> l(mu);
    order.push_back(3);
    last.set_value();
  });
  client_->runAfter(20ms, [&] {
    std::lock_guard<std::mutex> l(mu);
    order.push_back(1);
  });
  uint64_t gone = client_->runAfter(30ms, [&] {
    std::lock_guard<std::mutex> l(mu);
    order.push_back(99);
  });
  client_->runAfter(40ms, [&] {
    std::lock_guard<std::mutex> l(mu);
    order.push_back(2);
  });
  client_->cancelTimer(gone);
  ASSERT_EQ(last.get_future().wait_for(5s), std::future_status::ready);
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST_P(HttpClientTest, ManyTransfersInFlightOnOneThread) {
  constexpr int kCalls = 300;
  int threads_before = threadCount();
  auto start = Clock::now();
  Batch batch(*client_, kCalls, post(server_, {{"x-fake-latency-ms", "300"}}));
  std::this_thread::sleep_for(150ms);
  int peak_threads = threadCount();
  EXPECT_GT(client_->activeTransfers(), 0u);
  ASSERT_TRUE(batch.wait(20s));
  auto took = Clock::now() - start;
  EXPECT_EQ(batch.ok.load(), kCalls);
  EXPECT_EQ(peak_threads, threads_before) << "no thread per call";
  EXPECT_LT(took, 8s) << "300 x 300 ms one after another would take 90 s";
}

TEST_P(HttpClientTest, APooledConnectionClosedUnderARequestIsRetriedOnAFreshOne) {
  StaleServer server;
  HttpRequest get = getFrom(server);
  HttpResult first = perform(*client_, get);
  ASSERT_EQ(first.error, TransportError::kNone) << first.error_message;
  HttpResult second = perform(*client_, get);
  ASSERT_EQ(second.error, TransportError::kNone) << second.error_message;
  EXPECT_EQ(second.body, "ok");
  EXPECT_EQ(second.new_connections, 1) << "sent again on a new connection";
  EXPECT_EQ(server.requests(), 3) << "the dropped request, then the same one again";
  EXPECT_EQ(client_->connectionsOpened(), 2u);
}

TEST_P(HttpClientTest, MaxHostConnectionsQueuesTheRest) {
  HttpClient::Options o;
  o.max_host_connections = 2;
  auto client = makeClient(o);
  ASSERT_NE(client, nullptr);
  constexpr int kCalls = 6;
  Batch batch(*client, kCalls, post(server_, {{"x-fake-latency-ms", "100"}}));
  ASSERT_TRUE(batch.wait(20s));
  EXPECT_EQ(batch.ok.load(), kCalls);
  EXPECT_EQ(client->connectionsOpened(), 2u) << "two connections, each used three times";
}

TEST_P(HttpClientTest, OnDoneNeverRunsInsideStart) {
  // Started on the event thread (from another transfer's on_done), a request refused at once
  // still reports afterwards, not from inside start().
  HttpRequest refused;
  refused.url = "http://127.0.0.1:" + std::to_string(unusedLoopbackPort()) + "/x";
  refused.body = kBody;
  bool inside = false;  // event thread only
  auto second = std::make_shared<std::promise<std::pair<bool, HttpResult>>>();
  HttpCallbacks first;
  first.on_done = [&, second](HttpResult) {
    HttpCallbacks cb;
    cb.on_done = [&inside, second](HttpResult r) { second->set_value({inside, std::move(r)}); };
    inside = true;
    client_->start(refused, std::move(cb));
    inside = false;
  };
  client_->start(post(server_), std::move(first));
  auto f = second->get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  auto [was_inside, r] = f.get();
  EXPECT_FALSE(was_inside) << "on_done ran inside start()";
  EXPECT_EQ(r.error, TransportError::kConnect) << r.error_message;
}

TEST_P(HttpClientTest, AnEarlyAnswerLeavesNoHalfSentRequestOnAPooledConnection) {
  EarlyAnswerServer server;
  HttpRequest big;
  big.url = server.url();
  big.body.assign(16 << 20, 'x');  // far more than the socket buffers take unread
  big.first_byte_timeout = 10s;
  big.total_timeout = 20s;
  HttpResult refused = perform(*client_, big);
  EXPECT_EQ(refused.status, 413) << transportErrorName(refused.error) << ": "
                                 << refused.error_message;
  HttpRequest get = getFrom(server);
  HttpResult ok = perform(*client_, get);
  ASSERT_EQ(ok.error, TransportError::kNone)
      << ok.error_message << " (the request went on a connection the 413 left half-sent?)";
  EXPECT_EQ(ok.body, "ok");
  EXPECT_EQ(server.laterRequests(), std::vector<std::string>{"GET /x HTTP/1.1"});
}

}  // namespace
}  // namespace agentd::llm
