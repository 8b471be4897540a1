// tools/call latency and throughput over stdio: agentd's MCP client calling
// @modelcontextprotocol/server-everything's `echo`, one call at a time, as
// tests/mcp/bench_client.mjs does with the official TypeScript SDK client.
// Usage: mcp_call_bench [--calls N] [--warmup N]; prints one JSON object.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "client.h"
#include "stdio_transport.h"

int main(int argc, char** argv) {
  using namespace agentd::mcp;
  using Clock = std::chrono::steady_clock;
  int calls = 5000, warmup = 500;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--calls") == 0) calls = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--warmup") == 0) warmup = std::max(0, std::atoi(argv[i + 1]));
  }
  const std::string dir = AGENTD_MCP_NODE_DIR;
  StdioOptions o;
  o.command = dir + "/node_modules/.bin/node";
  o.args = {dir + "/node_modules/@modelcontextprotocol/server-everything/dist/index.js", "stdio"};
  Client client(std::make_unique<StdioTransport>(o), ClientOptions());
  Status st = client.connect(std::chrono::seconds(30));
  if (!st.isOk()) {
    std::fprintf(stderr, "connect: %s\n", st.message().c_str());
    return 1;
  }
  const std::string args = R"({"message":"hello"})";
  for (int i = 0; i < warmup; ++i) {
    auto r = client.callTool("echo", args);
    if (!r.ok()) {
      std::fprintf(stderr, "call: %s\n", r.status().message().c_str());
      return 1;
    }
  }
  std::vector<double> us;
  us.reserve(static_cast<size_t>(calls));
  auto start = Clock::now();
  for (int i = 0; i < calls; ++i) {
    auto t0 = Clock::now();
    auto r = client.callTool("echo", args);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if (!r.ok() || r->output != "Echo: hello") {
      std::fprintf(stderr, "call %d failed: %s\n", i,
                   r.ok() ? r->output.c_str() : r.status().message().c_str());
      return 1;
    }
  }
  double total = std::chrono::duration<double>(Clock::now() - start).count();
  client.close();
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) {
    return us[std::min(us.size() - 1, static_cast<size_t>(p * us.size()))];
  };
  std::printf(
      "{\"client\":\"agentd\",\"calls\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,\"calls_per_s\":%.1f}\n",
      calls, pct(0.50), pct(0.99), calls / total);
  return 0;
}
