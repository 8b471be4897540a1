// The MCP client library against real processes: pagination and version negotiation (a scripted
// server), ping, per-request timeouts that progress resets up to a hard maximum, and the
// notifications/cancelled a timeout sends (an SDK server reporting its abort signal).
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "client.h"
#include "stdio_transport.h"

namespace agentd::mcp {
namespace {

using namespace std::chrono_literals;

const std::string kNodeDir = AGENTD_MCP_NODE_DIR;
const std::string kNode = kNodeDir + "/node_modules/.bin/node";
const std::string kPaged =
    std::string(AGENTD_SOURCE_DIR) + "/tests/integration/mcp/paged_server.py";

class Logs {
 public:
  LogFn fn() {
    return [this](LogLevel, std::string_view m) {
      std::lock_guard<std::mutex> lock(mu_);
      text_ += std::string(m) + "\n";
    };
  }
  std::string text() {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }

 private:
  std::mutex mu_;
  std::string text_;
};

std::unique_ptr<Client> client(const std::string& command, std::vector<std::string> args,
                               ClientOptions options = {}) {
  StdioOptions o;
  o.command = command;
  o.args = std::move(args);
  return std::make_unique<Client>(std::make_unique<StdioTransport>(o), std::move(options));
}

TEST(McpClientProcess, FollowsNextCursorThroughEveryPage) {
  auto c = client("python3", {kPaged});
  ASSERT_TRUE(c->connect(10s).isOk());
  EXPECT_EQ(c->protocolVersion(), "2025-11-25");  // the server echoed what the client asked for
  auto tools = c->listTools();
  ASSERT_TRUE(tools.ok()) << tools.status().message();
  std::vector<std::string> names;
  for (const auto& t : *tools) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a1", "a2", "b1", "c1", "c2"}));
  EXPECT_TRUE(c->ping().isOk());
}

TEST(McpClientProcess, NegotiatesOlderVersionsAndRefusesUnknownOnes) {
  for (const std::string v : {"2025-06-18", "2025-03-26"}) {
    auto c = client("python3", {kPaged, v});
    ASSERT_TRUE(c->connect(10s).isOk()) << v;
    EXPECT_EQ(c->protocolVersion(), v);
  }
  auto old = client("python3", {kPaged, "2024-11-05"});
  Status st = old->connect(10s);
  EXPECT_EQ(st.code(), Status::Code::kProtocol);
  EXPECT_NE(st.message().find("2024-11-05"), std::string::npos) << st.message();
}

class McpClientNode : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kNode))
        << kNode << " is missing: run scripts/test.sh (or `npm ci` in tests/mcp)";
  }
};

TEST_F(McpClientNode, TimeoutSendsCancelledToTheServer) {
  Logs logs;
  ClientOptions o;
  o.log = logs.fn();
  auto c = client(kNode, {kNodeDir + "/dynamic_tools_server.mjs"}, o);
  ASSERT_TRUE(c->connect(20s).isOk());
  EXPECT_TRUE(c->ping().isOk());
  CallOptions call;
  call.timeout = 300ms;
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->callTool("slow", R"({"seconds":5})", call);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kDeadlineExceeded) << r.status().message();
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
  // The server's abort signal fired with our reason.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (logs.text().find("slow: cancelled (request timed out)") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(logs.text().find("slow: cancelled (request timed out)"), std::string::npos)
      << logs.text();
  // The session still works.
  EXPECT_TRUE(c->callTool("add_tool", R"({"name":"x"})").ok());
}

TEST_F(McpClientNode, ProgressResetsTheTimeoutUpToTheHardMaximum) {
  ClientOptions o;
  o.max_request_timeout = 3000ms;
  auto c = client(kNode, {kNodeDir + "/dynamic_tools_server.mjs"}, o);
  ASSERT_TRUE(c->connect(20s).isOk());
  CallOptions call;
  call.timeout = 1000ms;
  int progress = 0;
  call.on_progress = [&](double, double, std::string_view) { ++progress; };
  // 2 s of work, progress every 100 ms: longer than the timeout, shorter than the maximum.
  auto ok = c->callTool("slow", R"({"seconds":2})", call);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->output, "slept 2 s");
  EXPECT_GE(progress, 15);
  // 20 s of work: progress keeps coming, but the hard maximum (3 s) ends it.
  auto t0 = std::chrono::steady_clock::now();
  auto capped = c->callTool("slow", R"({"seconds":20})", call);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(capped.status().code(), Status::Code::kDeadlineExceeded);
  EXPECT_GE(took, 3000ms);
  EXPECT_LT(took, 8s);
}

}  // namespace
}  // namespace agentd::mcp
