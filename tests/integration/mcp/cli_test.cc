// `agentd mcp list-tools` and `agentd mcp call` against real servers: a command (stdio), a
// [mcp.servers] table of a config file, and a Streamable HTTP URL.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <regex>
#include <thread>

#include "support/http_get.h"
#include "support/subprocess.h"

namespace agentd::testing {
namespace {

using namespace std::chrono_literals;

const std::string kAgentd = std::string(AGENTD_BIN_DIR) + "/agentd";
const std::string kNodeDir = AGENTD_MCP_NODE_DIR;
const std::string kNode = kNodeDir + "/node_modules/.bin/node";
const std::string kEverything =
    kNodeDir + "/node_modules/@modelcontextprotocol/server-everything/dist/index.js";

std::vector<std::string> mcp(std::vector<std::string> args, bool stdio = true) {
  std::vector<std::string> argv = {kAgentd, "mcp"};
  argv.insert(argv.end(), args.begin(), args.end());
  if (stdio) argv.insert(argv.end(), {"--", kNode, kEverything, "stdio"});
  return argv;
}

class McpCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kNode))
        << kNode << " is missing: run scripts/test.sh (or `npm ci` in tests/mcp)";
  }
};

TEST_F(McpCli, ListToolsOfAStdioCommand) {
  RunResult r = run(mcp({"list-tools"}), 60s);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("echo "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("get-sum "), std::string::npos);
  EXPECT_NE(r.output.find("Returns the sum of two numbers"), std::string::npos);

  RunResult j = run(mcp({"list-tools", "--json"}), 60s);
  EXPECT_EQ(j.code, 0) << j.output;
  EXPECT_NE(j.output.find(R"("protocolVersion":"2025-11-25")"), std::string::npos) << j.output;
  EXPECT_NE(j.output.find(R"({"name":"echo","description":"Echoes back the input string")"),
            std::string::npos);
}

TEST_F(McpCli, CallPrintsTheResultAndProgress) {
  RunResult r =
      run(mcp({"call", "--tool", "echo", "--args", R"({"message":"from the cli"})"}), 60s);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("Echo: from the cli"), std::string::npos) << r.output;

  RunResult p = run(mcp({"call", "--tool", "trigger-long-running-operation", "--args",
                         R"({"duration":0.4,"steps":2})"}),
                    60s);
  EXPECT_EQ(p.code, 0) << p.output;
  EXPECT_NE(p.output.find("progress 1/2"), std::string::npos) << p.output;
  EXPECT_NE(p.output.find("progress 2/2"), std::string::npos) << p.output;
}

TEST_F(McpCli, ErrorsAndUsage) {
  RunResult unknown = run(mcp({"call", "--tool", "no-such-tool"}), 60s);
  EXPECT_EQ(unknown.code, 1) << unknown.output;
  EXPECT_NE(unknown.output.find("no-such-tool"), std::string::npos) << unknown.output;

  RunResult bad_args = run(mcp({"call", "--tool", "echo", "--args", "[1]"}), 60s);
  EXPECT_EQ(bad_args.code, 2) << bad_args.output;
  EXPECT_NE(bad_args.output.find("--args must be a JSON object"), std::string::npos);

  RunResult none = run(mcp({"list-tools"}, false), 60s);
  EXPECT_EQ(none.code, 2) << none.output;
  EXPECT_NE(none.output.find("give exactly one of"), std::string::npos) << none.output;

  RunResult dead = run(mcp({"list-tools", "--url", "http://127.0.0.1:9/mcp"}, false), 60s);
  EXPECT_EQ(dead.code, 1) << dead.output;
  EXPECT_NE(dead.output.find("cannot connect"), std::string::npos) << dead.output;
}

TEST_F(McpCli, ServerFromTheConfigFile) {
  std::string dir = freshDir("mcp-cli");
  writeFile(dir + "/agentd.toml", "[mcp.servers.everything]\ncommand = \"" + kNode +
                                      "\"\nargs = [\"" + kEverything +
                                      "\", \"stdio\"]\ntimeout_seconds = 30\n");
  RunResult r = run(mcp({"call", "--server", "everything", "--config", dir + "/agentd.toml",
                         "--tool", "get-sum", "--args", R"({"a":20,"b":22})"},
                        false),
                    60s);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("The sum of 20 and 22 is 42."), std::string::npos) << r.output;

  RunResult missing =
      run(mcp({"list-tools", "--server", "nope", "--config", dir + "/agentd.toml"}, false), 60s);
  EXPECT_EQ(missing.code, 2) << missing.output;
  EXPECT_NE(missing.output.find("has no [mcp.servers.nope]"), std::string::npos);
}

TEST_F(McpCli, StreamableHttpUrl) {
  Subprocess server({kNode, "--import", kNodeDir + "/loopback.mjs", kEverything, "streamableHttp"},
                    {{"PORT", "0"}});
  std::string line = server.waitForStderr("agentd-test: listening on 127.0.0.1:", 20s);
  ASSERT_FALSE(line.empty()) << server.stderrText();
  std::string url = "http://127.0.0.1:" + line.substr(line.rfind(':') + 1) + "/mcp";
  RunResult r = run(mcp({"call", "--url", url, "--header", "X-Test: ${PATH}", "--tool", "echo",
                         "--args", R"({"message":"over http"})"},
                        false),
                    60s);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("Echo: over http"), std::string::npos) << r.output;
}

// The adapter loaded by the real plugin host from [plugins.mcp]: its tools are listed, its
// metrics are served on /metrics, and SIGTERM stops the server process with agentd.
TEST_F(McpCli, ServeLoadsTheAdapterAndExportsItsMetrics) {
  std::string dir = freshDir("mcp-serve");
  std::string servers = "[plugins.mcp]\npath = \"" + std::string(AGENTD_PLUGIN_DIR) +
                        "/mcp.so\"\n\n[plugins.mcp.config.servers.everything]\ncommand = \"" +
                        kNode + "\"\nargs = [\"" + kEverything +
                        "\", \"stdio\"]\nallow = [\"echo\", \"get-sum\"]\nrequired = true\n";
  writeFile(dir + "/agentd.toml", servers);
  RunResult listed = run({kAgentd, "plugins", "list", "--config", dir + "/agentd.toml"}, 60s);
  EXPECT_EQ(listed.code, 0) << listed.output;
  EXPECT_NE(
      listed.output.find("mcp_adapter  0.1.0      1.1   everything__echo,everything__get-sum"),
      std::string::npos)
      << listed.output;

  writeFile(dir + "/agentd.toml",
            "[server]\nlisten = \"127.0.0.1:0\"\n\n[metrics]\nlisten = "
            "\"127.0.0.1:0\"\n\n" +
                servers);
  Subprocess p({kAgentd, "serve", "--config", dir + "/agentd.toml"});
  std::string line = p.waitForStderr("metrics listening", 30s);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(line, m, std::regex("\"address\":\"([0-9.]+:[0-9]+)\"")))
      << p.stderrText();
  std::string addr = m[1];
  ASSERT_FALSE(p.waitForStderr("agentd serving", 60s).empty()) << p.stderrText();
  std::smatch pid_match;
  std::string logs = p.stderrText();
  ASSERT_TRUE(std::regex_search(logs, pid_match, std::regex(R"(connected \(stdio, pid (\d+))")))
      << logs;
  pid_t server_pid = static_cast<pid_t>(std::stol(pid_match[1]));

  HttpResponse r = httpGet("http://" + addr + "/metrics");
  ASSERT_EQ(r.code, 200) << r.error;
  EXPECT_NE(r.body.find("agentd_mcp_server_up{server=\"everything\"} 1"), std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("agentd_mcp_tools{server=\"everything\"} 2"), std::string::npos);
  EXPECT_NE(r.body.find("agentd_mcp_client_operation_duration_seconds_count{"), std::string::npos);
  EXPECT_NE(r.body.find("method=\"tools/list\""), std::string::npos);

  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(30s), 0) << p.stderrText();
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = kill(server_pid, 0) != 0 && errno == ESRCH;
    if (!gone) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(gone) << "the MCP server process outlived agentd";
}

}  // namespace
}  // namespace agentd::testing
