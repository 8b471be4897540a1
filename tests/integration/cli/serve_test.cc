// `agentd serve` as a child process: the metrics port, its content checked by promtool, agent
// states, SIGHUP plugin swap, SIGTERM exit, usage and config errors.
#include <gtest/gtest.h>
#include <signal.h>

#include <regex>

#include "support/http_get.h"
#include "support/subprocess.h"

namespace agentd::testing {
namespace {

using namespace std::chrono_literals;

const std::string kAgentd = std::string(AGENTD_BIN_DIR) + "/agentd";
const std::string kFixtures = AGENTD_FIXTURE_DIR;

std::string configText(const std::string& good_so, bool broken_agent = true) {
  return "[server]\nlisten = \"127.0.0.1:0\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n\n"
         "[plugins]\ndrain_timeout_ms = 2000\n\n"
         "[plugins.good]\npath = \"" +
         good_so +
         "\"\nconfig = { greeting = \"hi\" }\n\n"
         "[agents.main]\ntools = [\"echo\", \"add\"]\n\n" +
         (broken_agent ? "[agents.needs_missing]\ntools = [\"no_such_tool\"]\n" : "");
}

// Extracts the bound address from the "metrics listening" log line.
std::string metricsAddress(Subprocess& p) {
  std::string line = p.waitForStderr("metrics listening", 10s);
  std::smatch m;
  if (!std::regex_search(line, m, std::regex("\"address\":\"([0-9.]+:[0-9]+)\""))) return "";
  return m[1];
}

TEST(Serve, MetricsEndpointServesValidExposition) {
  std::string dir = freshDir("serve");
  writeFile(dir + "/agentd.toml", configText(kFixtures + "/good_cpp.so"));
  Subprocess p(
      {kAgentd, "serve", "--config", dir + "/agentd.toml", "--metrics-listen", "127.0.0.1:0"});
  std::string addr = metricsAddress(p);
  ASSERT_FALSE(addr.empty()) << p.stderrText();
  ASSERT_FALSE(p.waitForStderr("agentd serving", 10s).empty()) << p.stderrText();

  HttpResponse r = httpGet("http://" + addr + "/metrics");
  ASSERT_EQ(r.code, 200) << r.error;
  const std::string& m = r.body;
  EXPECT_NE(m.find("agentd_build_info{"), std::string::npos);
  EXPECT_NE(m.find("abi=\"1.1\""), std::string::npos);
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_open_fds", "process_start_time_seconds"}) {
    EXPECT_NE(m.find(std::string("\n") + name + " "), std::string::npos) << name;
  }
  EXPECT_NE(m.find("agentd_agent_state{agent=\"main\",state=\"ready\"} 1"), std::string::npos) << m;
  EXPECT_NE(m.find("agentd_agent_state{agent=\"needs_missing\",state=\"failed\"} 1"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("agentd_agent_state_transitions_total{"), std::string::npos);
  EXPECT_NE(m.find("agentd_plugins_loaded{kind=\"tool\"} 1"), std::string::npos) << m;
  EXPECT_NE(m.find("agentd_plugin_load_failures_total{reason=\"abi_mismatch\"} 0"),
            std::string::npos);
  EXPECT_NE(m.find("agentd_plugin_generations_quarantined 0"), std::string::npos);

  // promtool is installed by scripts/test.sh; its silence is the check.
  RunResult check = run({"/usr/bin/promtool", "check", "metrics"}, 30s, m);
  EXPECT_EQ(check.code, 0) << check.output;
  EXPECT_EQ(check.output, "") << check.output;

  // Only /metrics is served on this port.
  EXPECT_EQ(httpGet("http://" + addr + "/").code, 404);
  EXPECT_EQ(httpGet("http://" + addr + "/api/tasks").code, 404);

  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(10s), 0) << p.stderrText();
  std::string log = p.stderrText();
  EXPECT_NE(log.find("\"to\":\"stopped\""), std::string::npos);
  // Every stderr line is one JSON object.
  size_t start = 0;
  while (start < log.size()) {
    size_t end = log.find('\n', start);
    std::string line = log.substr(start, end - start);
    if (!line.empty()) {
      EXPECT_EQ(line.front(), '{') << line;
      EXPECT_EQ(line.back(), '}') << line;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

// What scripts/run.sh starts: the embedded default with the first-party plugins.
TEST(Serve, EmbeddedDefaultConfigRunsOffline) {
  Subprocess p(
      {kAgentd, "serve", "--config", std::string(AGENTD_SOURCE_DIR) + "/config/agentd.toml",
       "--listen", "127.0.0.1:0"},
      {{"AGENTD_PLUGIN_DIR", AGENTD_PLUGIN_DIR}, {"AGENTD_METRICS_LISTEN", "127.0.0.1:0"}});
  std::string addr = metricsAddress(p);
  ASSERT_FALSE(addr.empty()) << p.stderrText();
  ASSERT_FALSE(p.waitForStderr("agentd serving", 10s).empty()) << p.stderrText();
  HttpResponse r = httpGet("http://" + addr + "/metrics");
  ASSERT_EQ(r.code, 200);
  EXPECT_NE(r.body.find("agentd_agent_state{agent=\"default\",state=\"ready\"} 1"),
            std::string::npos)
      << r.body << p.stderrText();
  // bash, str_replace_based_edit_tool, json_edit_tool, sequentialthinking, task_done; skills_dir.
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(r.body, m, std::regex("agentd_plugins_loaded\\{kind=\"tool\"\\} (\\d+)")));
  EXPECT_GE(std::stoi(m[1]), 5) << r.body;
  EXPECT_NE(r.body.find("agentd_plugins_loaded{kind=\"skill\"} 1"), std::string::npos) << r.body;
  EXPECT_EQ(p.stderrText().find("\"level\":\"error\""), std::string::npos) << p.stderrText();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(10s), 0);
}

TEST(Serve, SighupSwapsThePluginLibrary) {
  std::string dir = freshDir("serve-hup");
  writeFile(dir + "/agentd.toml", configText(kFixtures + "/good_cpp.so", false));
  Subprocess p({kAgentd, "serve", "--config", dir + "/agentd.toml"});
  std::string addr = metricsAddress(p);
  ASSERT_FALSE(addr.empty()) << p.stderrText();
  ASSERT_FALSE(p.waitForStderr("agentd serving", 10s).empty());

  // A reload that would leave an agent with a tool nobody offers is rejected, located.
  writeFile(dir + "/agentd.toml", configText(kFixtures + "/good_cpp_v2.so", true));
  p.signal(SIGHUP);
  std::string rejected = p.waitForStderr("configuration reload failed", 10s);
  EXPECT_NE(rejected.find("agentd.toml:17:10: agents.needs_missing.tools[0]: no loaded plugin "
                          "offers tool 'no_such_tool'"),
            std::string::npos)
      << rejected;

  writeFile(dir + "/agentd.toml", configText(kFixtures + "/good_cpp_v2.so", false));
  p.signal(SIGHUP);
  EXPECT_FALSE(p.waitForStderr("good fixture created, version v2", 10s).empty()) << p.stderrText();
  EXPECT_FALSE(p.waitForStderr("\"outcome\":\"unloaded\"", 10s).empty()) << p.stderrText();
  EXPECT_FALSE(p.waitForStderr("configuration reloaded", 10s).empty()) << p.stderrText();

  // A broken edit is rejected and the daemon keeps running.
  writeFile(dir + "/agentd.toml", "[plugins\n");
  p.signal(SIGHUP);
  EXPECT_FALSE(p.waitForStderr("reload rejected", 10s).empty()) << p.stderrText();
  EXPECT_EQ(httpGet("http://" + addr + "/metrics").code, 200);

  p.signal(SIGINT);
  EXPECT_EQ(p.wait(10s), 0);
}

TEST(Serve, ConfigErrorsExitTwoWithFileLineColumn) {
  std::string dir = freshDir("serve-bad");
  writeFile(dir + "/agentd.toml",
            "[metrics]\nlisten = \"nowhere\"\nbogus = 1\n\n[plugins]\nworkers = \"many\"\n");
  RunResult r = run({kAgentd, "serve", "--config", dir + "/agentd.toml"}, 10s);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("agentd.toml:2:10: metrics.listen: expected HOST:PORT"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("agentd.toml:3:1: metrics.bogus: unknown key"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("agentd.toml:6:11: plugins.workers: expected an integer, found a string"),
            std::string::npos)
      << r.output;
}

TEST(Serve, PortInUseIsARuntimeError) {
  std::string dir = freshDir("serve-port");
  writeFile(dir + "/agentd.toml", configText(kFixtures + "/good_cpp.so"));
  Subprocess first({kAgentd, "serve", "--config", dir + "/agentd.toml"});
  std::string addr = metricsAddress(first);
  ASSERT_FALSE(addr.empty());
  RunResult second =
      run({kAgentd, "serve", "--config", dir + "/agentd.toml", "--metrics-listen", addr}, 10s);
  EXPECT_EQ(second.code, 1) << second.output;
  EXPECT_NE(second.output.find("cannot listen"), std::string::npos) << second.output;
  first.signal(SIGTERM);
  EXPECT_EQ(first.wait(10s), 0);
}

TEST(Cli, VersionAndUsage) {
  RunResult v = run({kAgentd, "--version"}, 10s);
  EXPECT_EQ(v.code, 0);
  EXPECT_NE(v.output.find("agentd 0."), std::string::npos) << v.output;
  EXPECT_NE(v.output.find("plugin ABI 1.1"), std::string::npos) << v.output;
  EXPECT_EQ(run({kAgentd, "serve"}, 10s).code, 2);
  EXPECT_EQ(run({kAgentd, "frobnicate"}, 10s).code, 2);
  EXPECT_EQ(run({kAgentd, "serve", "--config", "/nonexistent/agentd.toml"}, 10s).code, 2);
}

}  // namespace
}  // namespace agentd::testing
