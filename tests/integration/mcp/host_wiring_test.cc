// [mcp.servers.*] and agents' mcp_servers through `agentd serve`: the host hands the servers to
// the MCP adapter, an agent's task calls SERVER__TOOL on a real server, a required server shows in
// /readyz, and removing the server by a config edit takes its tools away.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <regex>
#include <thread>

#include "support/http_get.h"
#include "support/subprocess.h"
#include "support/toml.h"

namespace agentd::testing {
namespace {

using namespace std::chrono_literals;

const std::string kAgentd = std::string(AGENTD_BIN_DIR) + "/agentd";
const std::string kPlugins = AGENTD_PLUGIN_DIR;
const std::string kNodeDir = AGENTD_MCP_NODE_DIR;
const std::string kNode = kNodeDir + "/node_modules/.bin/node";
const std::string kEverything =
    kNodeDir + "/node_modules/@modelcontextprotocol/server-everything/dist/index.js";

std::string config(const std::string& dir, bool with_server) {
  writeFile(
      dir + "/turns.jsonl",
      R"({"tool_calls":[{"id":"1","name":"everything__echo","arguments":{"message":"wired through the host"}}]})"
      "\n"
      R"({"content":"done","tool_calls":[{"id":"2","name":"task_done"}]})"
      "\n");
  std::string text = "[metrics]\nlisten = \"127.0.0.1:0\"\n" +
                     pluginToml("mcp", kPlugins + "/mcp.so") +
                     pluginToml("task_done", kPlugins + "/task_done.so") +
                     "[model_providers.script]\ntype = \"scripted\"\nscript = \"turns.jsonl\"\n"
                     "[models.m]\nprovider = \"script\"\n"
                     "[agents.default]\nmodel = \"m\"\ntools = [\"task_done\"]\n";
  if (with_server) {
    text += "mcp_servers = [\"everything\"]\n[mcp.servers.everything]\ncommand = \"" + kNode +
            "\"\nargs = [\"" + kEverything + "\", \"stdio\"]\nrequired = true\n";
  }
  return text;
}

TEST(McpHostWiring, ServersFromTheConfigReachTheAgent) {
  ASSERT_TRUE(std::filesystem::exists(kNode)) << "run scripts/test.sh (npm ci in tests/mcp)";
  std::string dir = freshDir("mcp-wiring");
  writeFile(dir + "/agentd.toml", config(dir, true));
  Subprocess p({kAgentd, "serve", "--config", dir + "/agentd.toml", "--listen", "127.0.0.1:0"});
  std::string line = p.waitForStderr("agentd serving", 30s);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(line, m, std::regex("\"api\":\"([0-9.]+:[0-9]+)\"")))
      << p.stderrText();
  std::string api = "http://" + std::string(m[1]);

  // The adapter connects in the background: wait (bounded) for the tools.
  HttpResponse tools;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    tools = httpGet(api + "/api/tools");
    if (tools.body.find("\"everything__echo\"") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_NE(tools.body.find("\"everything__echo\""), std::string::npos) << tools.body;
  HttpResponse ready = httpGet(api + "/readyz?verbose");
  EXPECT_EQ(ready.code, 200) << ready.body;
  EXPECT_NE(ready.body.find("[+]plugin:mcp ok"), std::string::npos) << ready.body;

  HttpResponse run = httpRequest("POST", api + "/api/run", R"({"task":"echo it"})");
  ASSERT_EQ(run.code, 202) << run.body;
  std::string id = run.body.substr(run.body.find("\"task_id\":\"") + 11);
  id = id.substr(0, id.find('"'));
  std::string status;
  deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    status = httpGet(api + "/api/tasks/" + id + "/status").body;
    if (status.find("\"state\":\"completed\"") != std::string::npos ||
        status.find("\"state\":\"failed\"") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(status.find("\"state\":\"completed\""), std::string::npos) << status;
  EXPECT_NE(status.find("wired through the host"), std::string::npos) << status;

  // Removing the server by a config edit takes its tools away, without a restart.
  writeFile(dir + "/agentd.toml.tmp", config(dir, false));
  std::filesystem::rename(dir + "/agentd.toml.tmp", dir + "/agentd.toml");
  deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    tools = httpGet(api + "/api/tools");
    if (tools.body.find("everything__") == std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(tools.body.find("everything__"), std::string::npos) << tools.body;
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(20s), 0);
}

}  // namespace
}  // namespace agentd::testing
