// The mcp.so adapter against real MCP servers: @modelcontextprotocol/server-everything over stdio
// and Streamable HTTP, @modelcontextprotocol/server-filesystem over stdio, and an SDK server whose
// tool list changes. Drives the plugin through the C ABI with a recording fake host.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <thread>

#include "integration/mcp/adapter_harness.h"
#include "support/subprocess.h"

namespace agentd::mcptest {
namespace {

using namespace std::chrono_literals;

const std::string kNodeDir = AGENTD_MCP_NODE_DIR;
const std::string kNode = kNodeDir + "/node_modules/.bin/node";
const std::string kEverything =
    kNodeDir + "/node_modules/@modelcontextprotocol/server-everything/dist/index.js";
const std::string kFilesystem =
    kNodeDir + "/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js";
const std::string kDynamic = kNodeDir + "/dynamic_tools_server.mjs";

std::string q(const std::string& s) {  // JSON string literal (test paths have no quotes)
  return "\"" + s + "\"";
}

std::string stdioServer(const std::string& script, const std::vector<std::string>& args = {},
                        const std::string& extra = "") {
  std::string a = "[" + q(script);
  for (const auto& x : args) a += "," + q(x);
  a += "]";
  return R"({"command":)" + q(kNode) + R"(,"args":)" + a + extra + "}";
}

std::string config(const std::string& servers) { return R"({"servers":{)" + servers + "}}"; }

// The PID the adapter logged for server name ("mcp server NAME: connected (stdio, pid N, ...").
pid_t loggedPid(FakeHost& host, const std::string& name, int nth = 1) {
  std::regex re("mcp server " + name + R"(: connected \(stdio, pid (\d+))");
  std::string logs = host.logText();
  int seen = 0;
  for (std::sregex_iterator it(logs.begin(), logs.end(), re), end; it != end; ++it) {
    if (++seen == nth) return static_cast<pid_t>(std::stol((*it)[1]));
  }
  return -1;
}

bool processGone(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

// Runs threads x calls echo calls at once; returns how many came back with their own message.
int concurrentEchoes(LoadedAdapter& plugin, const std::string& tool, int threads, int calls) {
  std::atomic<int> right{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < calls; ++i) {
        std::string m = "m" + std::to_string(t) + "-" + std::to_string(i);
        FakeCall c;
        plugin.invoke(c, tool, R"({"message":")" + m + R"("})");
        if (c.status == AGENTD_OK && c.text == "Echo: " + m) ++right;
      }
    });
  }
  for (auto& w : workers) w.join();
  return right.load();
}

class McpAdapter : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kNode))
        << kNode << " is missing: run scripts/test.sh (or `npm ci` in tests/mcp)";
    ASSERT_EQ(plugin_.loadError(), "");
  }
  void create(const std::string& cfg) {
    ASSERT_EQ(plugin_.create(cfg), AGENTD_OK) << plugin_.lastError();
  }
  // Invokes and expects success; returns the text (or JSON) output.
  std::string call(const std::string& tool, const std::string& args) {
    FakeCall c;
    plugin_.invoke(c, tool, args);
    EXPECT_EQ(c.status, AGENTD_OK) << tool << ": " << c.error;
    return c.emitted_json ? c.json : c.text;
  }
  LoadedAdapter plugin_;
};

TEST_F(McpAdapter, DescribesItselfAsAnMcpAdapterWithAConfigSchema) {
  const agentd_plugin* d = plugin_.descriptor();
  EXPECT_EQ(d->kind, AGENTD_KIND_MCP_ADAPTER);
  EXPECT_STREQ(d->name, "mcp");
  ASSERT_NE(d->config_schema, nullptr);
  EXPECT_NE(std::string(d->config_schema).find("\"servers\""), std::string::npos);
  EXPECT_NE(d->reconfigure, nullptr);
  EXPECT_NE(d->health, nullptr);
}

TEST_F(McpAdapter, RejectsBadConfigNamingTheKey) {
  EXPECT_EQ(plugin_.create(config(R"("x":{"command":"a","nope":1})")), AGENTD_EINVAL);
  EXPECT_EQ(plugin_.lastError(), "servers.x.nope: unknown key");
}

TEST_F(McpAdapter, EverythingOverStdio) {
  create(config(R"("everything":)" + stdioServer(kEverything, {"stdio"})));
  auto tools = plugin_.listTools();
  ASSERT_TRUE(plugin_.hasTool("everything__echo"));
  ASSERT_TRUE(plugin_.hasTool("everything__get-sum"));
  for (const auto& t : tools) {
    if (t.name == "everything__echo") {
      EXPECT_NE(t.input_schema.find("\"message\""), std::string::npos) << t.input_schema;
      EXPECT_FALSE(t.description.empty());
    }
  }
  EXPECT_EQ(call("everything__echo", R"({"message":"hello agentd"})"), "Echo: hello agentd");
  EXPECT_EQ(call("everything__get-sum", R"({"a":2,"b":40})"), "The sum of 2 and 40 is 42.");

  // Mixed content (text + image) becomes JSON with the MCP content blocks.
  std::string image = call("everything__get-tiny-image", "{}");
  EXPECT_NE(image.find(R"("type":"image")"), std::string::npos) << image.substr(0, 200);
  EXPECT_NE(image.find(R"("mimeType":"image/png")"), std::string::npos);
  // structuredContent is kept.
  std::string weather = call("everything__get-structured-content", R"({"location":"New York"})");
  EXPECT_NE(weather.find(R"("structuredContent":{)"), std::string::npos) << weather;

  // Elicitation: the form's required "name" has no default, so the default policy declines.
  std::string elicited = call("everything__trigger-elicitation-request", "{}");
  EXPECT_NE(elicited.find("decline"), std::string::npos) << elicited;

  // A tool-level error (server validation) is a failed call with the server's text.
  FakeCall bad;
  plugin_.invoke(bad, "everything__get-sum", R"({"a":"x"})");
  EXPECT_EQ(bad.status, AGENTD_ERR);
  EXPECT_FALSE(bad.error.empty());
  FakeCall unknown;
  plugin_.invoke(unknown, "nosuch__echo", "{}");
  EXPECT_EQ(unknown.status, AGENTD_ENOTFOUND);

  FakeHost& h = plugin_.host();
  EXPECT_EQ(h.metric("mcp_server_up{everything}"), 1);
  EXPECT_EQ(h.metric("mcp_tools{everything}"), static_cast<double>(tools.size()));
  EXPECT_GE(h.observations("mcp_client_operation_duration_seconds{everything,tools/call}"), 4);
  EXPECT_GE(h.observations("mcp_client_operation_duration_seconds{everything,initialize}"), 1);
  EXPECT_EQ(plugin_.health(), AGENTD_OK);
}

TEST_F(McpAdapter, ConcurrentCallsShareOneStdioServer) {
  create(config(R"("everything":)" + stdioServer(kEverything, {"stdio"})));
  EXPECT_EQ(concurrentEchoes(plugin_, "everything__echo", 8, 25), 200);
}

TEST_F(McpAdapter, LongRunningToolReportsProgress) {
  create(config(R"("everything":)" + stdioServer(kEverything, {"stdio"})));
  FakeCall c;
  plugin_.invoke(c, "everything__trigger-long-running-operation", R"({"duration":1,"steps":4})");
  ASSERT_EQ(c.status, AGENTD_OK) << c.error;
  EXPECT_NE(c.text.find("Long running operation completed"), std::string::npos) << c.text;
  ASSERT_EQ(c.progress.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(c.progress[i].done, static_cast<double>(i + 1));
    EXPECT_EQ(c.progress[i].total, 4);
  }
}

TEST_F(McpAdapter, CancellationSendsNotificationsCancelled) {
  create(config(R"("dyn":)" + stdioServer(kDynamic) + R"(,"everything":)" +
                stdioServer(kEverything, {"stdio"})));
  for (const std::string tool : {"dyn__slow", "everything__trigger-long-running-operation"}) {
    FakeCall c;
    std::string args = tool == "dyn__slow" ? R"({"seconds":30})" : R"({"duration":30,"steps":60})";
    std::thread t([&] { plugin_.invoke(c, tool, args); });
    ASSERT_TRUE(eventually(
        [&] {
          std::lock_guard<std::mutex> lock(c.mu);
          return !c.progress.empty();
        },
        10s))
        << tool << " reported no progress";
    auto t0 = std::chrono::steady_clock::now();
    c.cancelled = true;
    t.join();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    EXPECT_EQ(c.status, AGENTD_ECANCELED) << c.error;
  }
  // The server saw the cancellation (the tool's abort signal fired).
  EXPECT_TRUE(eventually(
      [&] { return plugin_.host().logText().find("slow: cancelled") != std::string::npos; }, 5s))
      << plugin_.host().logText();
  // Both servers still serve.
  EXPECT_EQ(call("everything__echo", R"({"message":"after"})"), "Echo: after");
  EXPECT_EQ(call("dyn__add_tool", R"({"name":"x"})"), "added x");
}

TEST_F(McpAdapter, ServerKilledMidCallIsRestartedAndTheNextCallWorks) {
  create(config(R"("everything":)" + stdioServer(kEverything, {"stdio"})));
  pid_t pid = loggedPid(plugin_.host(), "everything");
  ASSERT_GT(pid, 0) << plugin_.host().logText();
  int changed_before = plugin_.host().tools_changed.load();
  FakeCall c;
  std::thread t([&] {
    plugin_.invoke(c, "everything__trigger-long-running-operation",
                   R"({"duration":30,"steps":60})");
  });
  ASSERT_TRUE(eventually(
      [&] {
        std::lock_guard<std::mutex> lock(c.mu);
        return !c.progress.empty();
      },
      10s));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  t.join();
  EXPECT_EQ(c.status, AGENTD_ERR);
  EXPECT_NE(c.error.find("killed by signal 9"), std::string::npos) << c.error;

  // Restarted with a new process; the next call waits for it and succeeds.
  EXPECT_EQ(call("everything__echo", R"({"message":"again"})"), "Echo: again");
  pid_t again = loggedPid(plugin_.host(), "everything", 2);
  EXPECT_GT(again, 0);
  EXPECT_NE(again, pid);
  FakeHost& h = plugin_.host();
  EXPECT_GE(h.metric("mcp_reconnects_total{everything}"), 1);
  EXPECT_EQ(h.metric("mcp_server_up{everything}"), 1);
  EXPECT_GT(h.tools_changed.load(), changed_before) << "the host re-lists after a reconnect";
  EXPECT_NE(h.logText().find("connection lost: server process killed by signal 9"),
            std::string::npos)
      << h.logText();
}

TEST_F(McpAdapter, ToolListChangesReachTheHost) {
  create(config(R"("dyn":)" + stdioServer(kDynamic)));
  EXPECT_FALSE(plugin_.hasTool("dyn__greet"));
  int before = plugin_.host().tools_changed.load();
  EXPECT_EQ(call("dyn__add_tool", R"({"name":"greet"})"), "added greet");
  ASSERT_TRUE(eventually([&] { return plugin_.hasTool("dyn__greet"); }, 5s));
  EXPECT_GT(plugin_.host().tools_changed.load(), before);
  EXPECT_EQ(call("dyn__greet", R"({"text":"hi"})"), "greet: hi");
  EXPECT_EQ(plugin_.host().metric("mcp_tools{dyn}"), 4);
  EXPECT_EQ(call("dyn__remove_tool", R"({"name":"greet"})"), "removed greet");
  ASSERT_TRUE(eventually([&] { return !plugin_.hasTool("dyn__greet"); }, 5s));
  EXPECT_EQ(plugin_.host().metric("mcp_tools{dyn}"), 3);
}

TEST_F(McpAdapter, AllowAndDenyListsFilterTools) {
  create(
      config(R"("everything":)" + stdioServer(kEverything, {"stdio"},
                                              R"(,"allow":["echo","get-*"],"deny":["get-env"])")));
  std::vector<std::string> names;
  for (const auto& t : plugin_.listTools()) names.push_back(t.name);
  EXPECT_NE(std::find(names.begin(), names.end(), "everything__echo"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "everything__get-sum"), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), "everything__get-env"), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), "everything__trigger-long-running-operation"),
            names.end());
  FakeCall denied;
  plugin_.invoke(denied, "everything__get-env", "{}");
  EXPECT_EQ(denied.status, AGENTD_ENOTFOUND);
  EXPECT_NE(denied.error.find("not allowed"), std::string::npos);
}

TEST_F(McpAdapter, FilesystemOverStdio) {
  std::string dir = testing::freshDir("mcp-fs");
  dir = std::filesystem::canonical(dir).string();
  create(config(R"("fs":)" + stdioServer(kFilesystem, {dir})));
  ASSERT_TRUE(plugin_.hasTool("fs__write_file"));
  ASSERT_TRUE(plugin_.hasTool("fs__list_directory"));
  std::string file = dir + "/note.txt";
  call("fs__write_file", R"({"path":)" + q(file) + R"(,"content":"written by agentd"})");
  std::ifstream in(file);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "written by agentd");
  std::string read = call("fs__read_text_file", R"({"path":)" + q(file) + "}");
  EXPECT_NE(read.find("written by agentd"), std::string::npos) << read;
  std::string listing = call("fs__list_directory", R"({"path":)" + q(dir) + "}");
  EXPECT_NE(listing.find("note.txt"), std::string::npos) << listing;
  // Outside the allowed directory the server refuses: a failed call with its reason.
  FakeCall outside;
  plugin_.invoke(outside, "fs__read_text_file", R"({"path":"/etc/hostname"})");
  EXPECT_EQ(outside.status, AGENTD_ERR);
  EXPECT_NE(outside.error.find("ccess denied"), std::string::npos) << outside.error;
}

// server-everything over Streamable HTTP on an ephemeral 127.0.0.1 port.
class HttpEverything {
 public:
  explicit HttpEverything(int port = 0) { start(port); }
  void start(int port) {
    proc_ = std::make_unique<testing::Subprocess>(
        std::vector<std::string>{kNode, "--import", kNodeDir + "/loopback.mjs", kEverything,
                                 "streamableHttp"},
        std::map<std::string, std::string>{{"PORT", std::to_string(port)}});
    std::string line = proc_->waitForStderr("agentd-test: listening on 127.0.0.1:", 20s);
    if (line.empty()) return;
    port_ = std::stoi(line.substr(line.rfind(':') + 1));
  }
  void kill() {
    proc_->signal(SIGKILL);
    proc_->wait(5s);
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/mcp"; }

 private:
  std::unique_ptr<testing::Subprocess> proc_;
  int port_ = 0;
};

TEST_F(McpAdapter, EverythingOverStreamableHttp) {
  HttpEverything server;
  ASSERT_GT(server.port(), 0);
  create(config(R"("web":{"url":")" + server.url() + R"("})"));
  ASSERT_TRUE(plugin_.hasTool("web__echo")) << plugin_.host().logText();
  EXPECT_EQ(call("web__echo", R"({"message":"over http"})"), "Echo: over http");
  EXPECT_EQ(call("web__get-sum", R"({"a":1.5,"b":2})"), "The sum of 1.5 and 2 is 3.5.");
  EXPECT_EQ(concurrentEchoes(plugin_, "web__echo", 8, 10), 80);

  FakeCall progress;
  plugin_.invoke(progress, "web__trigger-long-running-operation", R"({"duration":1,"steps":3})");
  ASSERT_EQ(progress.status, AGENTD_OK) << progress.error;
  EXPECT_EQ(progress.progress.size(), 3u);

  FakeCall c;
  std::thread t([&] {
    plugin_.invoke(c, "web__trigger-long-running-operation", R"({"duration":30,"steps":60})");
  });
  ASSERT_TRUE(eventually(
      [&] {
        std::lock_guard<std::mutex> lock(c.mu);
        return !c.progress.empty();
      },
      10s));
  c.cancelled = true;
  t.join();
  EXPECT_EQ(c.status, AGENTD_ECANCELED);
  EXPECT_EQ(call("web__echo", R"({"message":"still here"})"), "Echo: still here");

  // The server dies mid-call and comes back on the same port: a new session, then calls work.
  FakeCall lost;
  std::thread t2([&] {
    plugin_.invoke(lost, "web__trigger-long-running-operation", R"({"duration":30,"steps":60})");
  });
  ASSERT_TRUE(eventually(
      [&] {
        std::lock_guard<std::mutex> lock(lost.mu);
        return !lost.progress.empty();
      },
      10s));
  server.kill();
  t2.join();
  EXPECT_NE(lost.status, AGENTD_OK);
  server.start(server.port());
  EXPECT_EQ(call("web__echo", R"({"message":"new session"})"), "Echo: new session");
  EXPECT_GE(plugin_.host().metric("mcp_reconnects_total{web}"), 1);
}

TEST_F(McpAdapter, RequiredServerDownFailsHealthWithTheReason) {
  create(config(R"("broken":{"command":"/bin/false","required":true},)"
                R"("optional":{"command":"/bin/false"})"));
  EXPECT_EQ(plugin_.health(), AGENTD_ERR);
  std::string why = plugin_.lastError();
  EXPECT_NE(why.find("required MCP server broken is down"), std::string::npos) << why;
  EXPECT_EQ(why.find("optional"), std::string::npos) << why;
  EXPECT_EQ(plugin_.host().metric("mcp_server_up{broken}"), 0);
  EXPECT_NE(plugin_.host().logText().find("mcp server broken: connect failed"), std::string::npos);
  // It keeps being retried, with exponential backoff (0.5 s, 1 s, 2 s, ...), not in a tight loop.
  std::this_thread::sleep_for(2500ms);
  double retries = plugin_.host().metric("mcp_reconnects_total{broken}");
  EXPECT_GE(retries, 1);
  EXPECT_LE(retries, 3);
}

TEST_F(McpAdapter, ReconfigureConnectsAndDisconnectsServers) {
  create(config(R"("dyn":)" + stdioServer(kDynamic)));
  pid_t dyn_pid = loggedPid(plugin_.host(), "dyn");
  ASSERT_GT(dyn_pid, 0);
  ASSERT_TRUE(plugin_.hasTool("dyn__add_tool"));
  int before = plugin_.host().tools_changed.load();

  // Add a server, remove the other.
  ASSERT_EQ(plugin_.reconfigure(config(R"("everything":)" + stdioServer(kEverything, {"stdio"}))),
            AGENTD_OK)
      << plugin_.lastError();
  EXPECT_TRUE(plugin_.hasTool("everything__echo"));
  EXPECT_FALSE(plugin_.hasTool("dyn__add_tool"));
  EXPECT_GT(plugin_.host().tools_changed.load(), before);
  EXPECT_TRUE(eventually([&] { return processGone(dyn_pid); }, 10s)) << "removed server stopped";
  EXPECT_EQ(plugin_.host().metric("mcp_server_up{dyn}"), 0);
  EXPECT_EQ(call("everything__echo", R"({"message":"reconfigured"})"), "Echo: reconfigured");

  // A rejected config keeps the running one.
  EXPECT_EQ(plugin_.reconfigure(config(R"("x":{})")), AGENTD_EINVAL);
  EXPECT_NE(plugin_.lastError().find("servers.x"), std::string::npos);
  EXPECT_TRUE(plugin_.hasTool("everything__echo"));

  // Changing a server's table restarts it with the new settings.
  pid_t ev_pid = loggedPid(plugin_.host(), "everything");
  ASSERT_EQ(plugin_.reconfigure(config(
                R"("everything":)" + stdioServer(kEverything, {"stdio"}, R"(,"allow":["echo"])"))),
            AGENTD_OK);
  auto tools = plugin_.listTools();
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0].name, "everything__echo");
  EXPECT_TRUE(eventually([&] { return processGone(ev_pid); }, 10s));
}

TEST_F(McpAdapter, DestroyStopsEveryServerProcess) {
  create(
      config(R"("a":)" + stdioServer(kDynamic) + R"(,"b":)" + stdioServer(kEverything, {"stdio"})));
  pid_t a = loggedPid(plugin_.host(), "a"), b = loggedPid(plugin_.host(), "b");
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  auto t0 = std::chrono::steady_clock::now();
  plugin_.destroy();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_TRUE(processGone(a));
  EXPECT_TRUE(processGone(b));
}

}  // namespace
}  // namespace agentd::mcptest
