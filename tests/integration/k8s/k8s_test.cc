// agentd as Kubernetes and Prometheus see it, on 127.0.0.1 with ephemeral ports:
// - the kubelet's ConfigMap update (AtomicWriter: ..<timestamp> dir, ..data symlink swapped by a
//   rename of ..data_tmp, old dir removed) against `agentd serve` with a task in flight;
// - a real Prometheus scraping agentd, loading the PrometheusRule's rules and answering every
//   dashboard query;
// - `promtool check metrics` on the live exposition, and every metric name the dashboard and
//   the alerts use present in it (with models, plugins, the MCP adapter and a task exercised).
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "common/json.h"
#include "support/http_get.h"
#include "support/ports.h"
#include "support/subprocess.h"
#include "support/toml.h"
#include "support/wait.h"

namespace agentd::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kAgentd = std::string(AGENTD_BIN_DIR) + "/agentd";
const std::string kFixtures = AGENTD_FIXTURE_DIR;
const std::string kPlugins = AGENTD_PLUGIN_DIR;
const std::string kSource = AGENTD_SOURCE_DIR;

std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string urlEncode(const std::string& s) {
  char* e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
  std::string out(e);
  curl_free(e);
  return out;
}

// `agentd serve` as a child on ephemeral ports; killed by PID when it goes away.
class Agentd {
 public:
  explicit Agentd(const std::string& config_path) {
    proc_ = std::make_unique<Subprocess>(
        std::vector<std::string>{kAgentd, "serve", "--config", config_path, "--listen",
                                 "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"});
    std::string line = proc_->waitForStderr("agentd serving", 30s);
    std::smatch m;
    if (std::regex_search(line, m, std::regex("\"api\":\"([0-9.]+:[0-9]+)\""))) api_ = m[1];
    if (std::regex_search(line, m, std::regex("\"metrics\":\"([0-9.]+:[0-9]+)\""))) {
      metrics_ = m[1];
    }
  }
  ~Agentd() {
    proc_->signal(SIGKILL);
    proc_->wait(5s);
  }
  bool ok() const { return !api_.empty() && !metrics_.empty(); }
  const std::string& metricsAddress() const { return metrics_; }
  std::string url(const std::string& path) const { return "http://" + api_ + path; }
  HttpResponse get(const std::string& path, long timeout_ms = 5000) const {
    return httpRequest("GET", url(path), "", {}, timeout_ms);
  }
  std::string metrics() const { return httpGet("http://" + metrics_ + "/metrics").body; }
  Subprocess& proc() { return *proc_; }

  // Submits a task; returns its id or "".
  std::string run(const std::string& task) {
    HttpResponse r = httpRequest("POST", url("/api/run"), R"({"task":")" + task + R"("})");
    if (r.code != 202) return "";
    auto d = json::parse(r.body);
    return d.ok() ? (*d)["task_id"].GetString() : "";
  }
  std::string state(const std::string& id) {
    auto d = json::parse(get("/api/tasks/" + id + "/status").body);
    return d.ok() && d->HasMember("state") ? (*d)["state"].GetString() : "";
  }
  std::string waitState(const std::string& id, const std::set<std::string>& want,
                        std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    std::string s;
    while (Clock::now() < deadline) {
      s = state(id);
      if (want.count(s)) return s;
      std::this_thread::sleep_for(10ms);
    }
    return s;
  }

 private:
  std::unique_ptr<Subprocess> proc_;
  std::string api_, metrics_;
};

// ---------------------------------------------------------------- the kubelet's AtomicWriter

// A ConfigMap volume as the kubelet writes it (pkg/volume/util/atomic_writer.go): the files live
// in a hidden timestamped directory, `..data` points at it, and each key is a symlink
// `key -> ..data/key`. An update writes a new timestamped directory, points `..data_tmp` at it,
// renames `..data_tmp` over `..data` (the one atomic step), adds symlinks for new keys and
// removes the old directory.
class ConfigMapVolume {
 public:
  explicit ConfigMapVolume(std::string dir) : dir_(std::move(dir)) {}

  void write(const std::map<std::string, std::string>& files) {
    std::string ts = newTimestampDir();
    for (const auto& [key, text] : files) {
      std::ofstream(dir_ + "/" + ts + "/" + key, std::ios::binary) << text;
    }
    if (current_.empty()) {
      fs::create_directory_symlink(ts, dir_ + "/..data");
    } else {
      fs::create_directory_symlink(ts, dir_ + "/..data_tmp");
      fs::rename(dir_ + "/..data_tmp", dir_ + "/..data");
    }
    for (const auto& [key, text] : files) {
      if (!fs::is_symlink(dir_ + "/" + key)) fs::create_symlink("..data/" + key, dir_ + "/" + key);
    }
    if (!current_.empty()) fs::remove_all(dir_ + "/" + current_);
    current_ = ts;
  }

  // Hidden timestamped directories present now.
  std::vector<std::string> timestampDirs() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) {
      std::string n = e.path().filename();
      if (n.rfind("..2", 0) == 0) out.push_back(n);
    }
    return out;
  }

 private:
  std::string newTimestampDir() {
    // Like os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05.")).
    std::time_t now = std::time(nullptr);
    char buf[64];
    std::strftime(buf, sizeof buf, "..%Y_%m_%d_%H_%M_%S.", std::gmtime(&now));
    std::string name = buf + std::to_string(100000000 + ++seq_ * 7919 + getpid() % 1000);
    fs::create_directory(dir_ + "/" + name);
    return name;
  }
  std::string dir_, current_;
  int seq_ = 0;
};

// Polls /readyz until stopped; counts answers that are not 200.
class ReadyzPoller {
 public:
  explicit ReadyzPoller(std::string url) : url_(std::move(url)) {
    thread_ = std::thread([this] {
      while (!stop_) {
        HttpResponse r = httpGet(url_, 2000);
        ++polls_;
        if (r.code != 200) {
          ++failures_;
          std::lock_guard<std::mutex> lock(mu_);
          last_failure_ = std::to_string(r.code) + " " + r.body + r.error;
        }
        std::this_thread::sleep_for(20ms);
      }
    });
  }
  ~ReadyzPoller() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int polls() const { return polls_; }
  int failures() const { return failures_; }
  std::string lastFailure() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_failure_;
  }

 private:
  std::string url_;
  std::atomic<bool> stop_{false};
  std::atomic<int> polls_{0}, failures_{0};
  std::mutex mu_;
  std::string last_failure_;
  std::thread thread_;
};

std::string reloadConfig(const std::string& extra_agents, int max_steps) {
  // debounce_ms as in deploy/k8s/configmap.yaml; the hash poll is far too slow to be what
  // applies the change within the second the test allows.
  return "[server]\nshutdown_grace_seconds = 10\n"
         "[reload]\nwatch = true\ndebounce_ms = 250\npoll_interval_seconds = 60\n" +
         pluginToml("sleeper", kFixtures + "/sleeper.so") +
         pluginToml("task_done", kPlugins + "/task_done.so") +
         "[model_providers.script]\ntype = \"scripted\"\nscript = \"turns.jsonl\"\n"
         "[models.m]\nprovider = \"script\"\n"
         "[agents.default]\nmodel = \"m\"\ntools = [\"sleep\", \"task_done\"]\nmax_steps = " +
         std::to_string(max_steps) + "\n" + extra_agents;
}

// The sha256 label of agentd_config_info (the configuration in force), or "".
std::string configSha(const std::string& metrics) {
  std::smatch m;
  std::regex re("agentd_config_info\\{sha256=\"([0-9a-f]{64})\"\\} 1");
  return std::regex_search(metrics, m, re) ? std::string(m[1]) : "";
}

bool agentsInclude(Agentd& a, const std::string& name) {
  return a.get("/api/agents").body.find("\"name\":\"" + name + "\"") != std::string::npos;
}

// Waits until agentsInclude(name) == want; returns the time it took, or -1 ms on timeout.
std::chrono::milliseconds waitAgent(Agentd& a, const std::string& name, bool want,
                                    std::chrono::milliseconds timeout) {
  auto start = Clock::now();
  while (Clock::now() - start < timeout) {
    if (agentsInclude(a, name) == want) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    }
    std::this_thread::sleep_for(5ms);
  }
  return -1ms;
}

TEST(ConfigMapReload, KubeletSwapAppliesLiveWithATaskInFlight) {
  std::string dir = freshDir("configmap");
  ConfigMapVolume volume(dir);
  // One key is the config, another the model's script, as one ConfigMap would carry them.
  const std::string turns = R"({"tool_calls":[{"id":"c1","name":"sleep","arguments":{"ms":3000}}]})"
                            "\n"
                            R"({"tool_calls":[{"id":"c2","name":"task_done","arguments":{}}]})"
                            "\n"
                            R"({"content":"done"})"
                            "\n";
  const std::string v1 = reloadConfig("", 10);
  volume.write({{"agentd.toml", v1}, {"turns.jsonl", turns}});
  ASSERT_TRUE(fs::is_symlink(dir + "/agentd.toml"));

  Agentd a(dir + "/agentd.toml");
  ASSERT_TRUE(a.ok()) << a.proc().stderrText();
  ReadyzPoller readyz(a.url("/readyz"));
  const std::string sha_v1 = configSha(a.metrics());

  std::string id = a.run("sleep, then finish");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(a.waitState(id, {"running"}, 10s), "running");
  std::this_thread::sleep_for(300ms);  // the sleep tool is now in its 3 s call

  // Update 1: a new agent and a changed setting of the busy one.
  const std::string v2 =
      reloadConfig("[agents.reviewer]\nmodel = \"m\"\ntools = [\"task_done\"]\n", 12);
  volume.write({{"agentd.toml", v2}, {"turns.jsonl", turns}});
  auto took = waitAgent(a, "reviewer", true, 5s);
  ASSERT_GE(took.count(), 0) << "the ConfigMap update was not applied\n" << a.proc().stderrText();
  EXPECT_LT(took.count(), 1000) << "applied after " << took.count() << " ms";
  std::printf("ConfigMap update 1 applied %lld ms after the ..data swap\n",
              static_cast<long long>(took.count()));
  EXPECT_EQ(a.state(id), "running") << "the task was not in flight during the update";
  EXPECT_EQ(volume.timestampDirs().size(), 1u);

  std::string m = a.metrics();
  EXPECT_NE(m.find("agentd_config_reloads_total{result=\"success\"} 1"), std::string::npos) << m;
  const std::string sha_v2 = configSha(m);
  EXPECT_FALSE(sha_v2.empty());
  EXPECT_NE(sha_v2, sha_v1) << "agentd_config_info did not follow the new ConfigMap content";
  EXPECT_NE(m.find("agentd_config_last_reload_successful 1"), std::string::npos);
  std::string log = a.proc().stderrText();
  EXPECT_NE(log.find(R"("msg":"configuration reloaded","trigger":"file change)"), std::string::npos)
      << "not applied by the directory watch:\n"
      << log;

  // The task started before the update finishes, on the snapshot it started with.
  EXPECT_EQ(a.waitState(id, {"completed", "failed", "cancelled", "interrupted"}, 20s), "completed")
      << a.get("/api/tasks/" + id + "/status").body;

  // Update 2 (the watch survives the swapped ..data and removed directory): the agent goes.
  volume.write({{"agentd.toml", v1}, {"turns.jsonl", turns}});
  took = waitAgent(a, "reviewer", false, 5s);
  ASSERT_GE(took.count(), 0) << "the second ConfigMap update was not applied";
  EXPECT_LT(took.count(), 1000) << "applied after " << took.count() << " ms";
  std::printf("ConfigMap update 2 applied %lld ms after the ..data swap\n",
              static_cast<long long>(took.count()));
  m = a.metrics();
  EXPECT_NE(m.find("agentd_config_reloads_total{result=\"success\"} 2"), std::string::npos) << m;
  EXPECT_NE(m.find("agentd_config_reloads_total{result=\"failure\"} 0"), std::string::npos) << m;
  EXPECT_EQ(configSha(m), sha_v1) << "the first content again is the first configuration again";

  readyz.stop();
  EXPECT_GT(readyz.polls(), 50);
  EXPECT_EQ(readyz.failures(), 0) << "/readyz was not 200 " << readyz.failures() << " times of "
                                  << readyz.polls() << "; last: " << readyz.lastFailure();
}

// ---------------------------------------------------------------- agentd with everything on

// A config exercising models (a retried 503, the cache, tokens), plugins, the MCP adapter with
// a real stdio MCP server and one that never starts (so reconnects are counted), and a task that
// calls a plugin tool and an MCP tool.
struct FullAgentd {
  std::string dir;
  std::unique_ptr<Agentd> agentd;
  std::string task_state;

  FullAgentd() {
    dir = freshDir("k8s-full");
    writeFile(dir + "/turns.jsonl",
              R"({"error":{"http_status":503,"message":"overloaded"}})"
              "\n"
              R"({"tool_calls":[{"id":"c1","name":"sleep","arguments":{"ms":20}},)"
              R"({"id":"c2","name":"echo__echo","arguments":{"text":"hi"}}],)"
              R"("usage":{"input_tokens":40,"output_tokens":9}})"
              "\n"
              R"({"tool_calls":[{"id":"c3","name":"task_done","arguments":{}}],)"
              R"("usage":{"input_tokens":60,"output_tokens":4}})"
              "\n"
              R"({"content":"done","usage":{"input_tokens":70,"output_tokens":2}})"
              "\n");
    writeFile(dir + "/agentd.toml",
              "[server]\nshutdown_grace_seconds = 5\n" +
                  pluginToml("sleeper", kFixtures + "/sleeper.so") +
                  pluginToml("task_done", kPlugins + "/task_done.so") +
                  pluginToml("mcp", kPlugins + "/mcp.so") +
                  "config = { servers = { echo = { command = \"" AGENTD_PYTHON3 "\", args = [\"" +
                  kSource +
                  "/tests/integration/k8s/mcp_echo_server.py\"] }, "
                  "  broken = { command = \"/bin/false\" } } }\n"
                  "[model_providers.script]\ntype = \"scripted\"\nscript = \"turns.jsonl\"\n"
                  "[models.m]\nprovider = \"script\"\ncache = true\n"
                  "[agents.default]\nmodel = \"m\"\nmax_steps = 6\n"
                  "tools = [\"sleep\", \"task_done\", \"echo__echo\"]\n");
    agentd = std::make_unique<Agentd>(dir + "/agentd.toml");
    if (!agentd->ok()) return;
    std::string id = agentd->run("use the tools");
    if (!id.empty()) {
      task_state = agentd->waitState(id, {"completed", "failed", "cancelled"}, 20s);
    }
    // A reload, so the reload series move too (a no-op: same bytes).
    httpRequest("POST", agentd->url("/admin/reload"), "");
  }
  bool ok() const { return agentd && agentd->ok() && task_state == "completed"; }
  std::string why() {
    return "task " + task_state + "\n" + (agentd ? agentd->proc().stderrText() : "");
  }
};

// Every metric name in the exposition: sample names and the families of HELP/TYPE lines.
std::set<std::string> exposedNames(const std::string& text) {
  std::set<std::string> names;
  std::istringstream in(text);
  std::string line;
  std::regex sample("^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]");
  std::regex meta("^# (?:HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, meta) || std::regex_search(line, m, sample)) names.insert(m[1]);
  }
  return names;
}

// Metric names (agentd_*, process_*) a rules file or dashboard mentions anywhere.
std::set<std::string> mentionedNames(const std::string& text) {
  std::set<std::string> names;
  std::regex re("\\b((?:agentd|process)_[a-z0-9_]+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    names.insert((*it)[1]);
  }
  return names;
}

TEST(Metrics, EveryNameTheDashboardAndAlertsUseExists) {
  FullAgentd full;
  ASSERT_TRUE(full.ok()) << full.why();
  // The series the alerts need to fire at all (not just the names): the MCP gauge per server,
  // the state enum, the error-rate counter by status.
  const std::vector<std::string> needed = {
      "agentd_mcp_server_up{server=\"echo\"} 1", "agentd_mcp_tools{server=\"echo\"} 1",
      "agentd_mcp_client_operation_duration_seconds_count{method=\"tools/call\",server=\"echo\"} 1",
      "agentd_llm_retries_total{provider=\"script\",reason=\"503\"} 1",
      "agentd_agent_state{agent=\"default\",state=\"ready\"} 1"};
  // The MCP adapter and the task settle their series on their own threads: wait (bounded).
  std::string m;
  waitUntil(
      [&] {
        m = full.agentd->metrics();
        for (const auto& n : needed) {
          if (m.find(n) == std::string::npos) return false;
        }
        return true;
      },
      15s, 20ms);
  std::set<std::string> exposed = exposedNames(m);
  ASSERT_TRUE(exposed.count("agentd_build_info"));

  for (const char* file :
       {"deploy/k8s/prometheusrule.yaml", "deploy/grafana/agentd-dashboard.json"}) {
    std::set<std::string> used = mentionedNames(readText(kSource + "/" + file));
    EXPECT_GE(used.size(), std::string(file).find("dashboard") != std::string::npos ? 20u : 9u)
        << file << " names suspiciously few metrics";
    for (const auto& name : used) {
      EXPECT_TRUE(exposed.count(name))
          << file << " uses " << name << ", which agentd does not export";
    }
  }
  for (const auto& n : needed) EXPECT_NE(m.find(n), std::string::npos) << n << "\n" << m;
}

TEST(Metrics, PromtoolChecksTheLiveExposition) {
  FullAgentd full;
  ASSERT_TRUE(full.ok()) << full.why();
  std::string text = full.agentd->metrics();
  ASSERT_NE(text.find("agentd_gen_ai_client_token_usage_total"), std::string::npos);
  ASSERT_NE(text.find("agentd_mcp_server_up"), std::string::npos);
  RunResult r = run({AGENTD_PROMTOOL, "check", "metrics"}, 30s, text);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output, "") << "promtool found problems:\n" << r.output;
}

// ---------------------------------------------------------------- a real Prometheus

// The Debian `prometheus` server on 127.0.0.1, its storage in the build tree, stopped by PID.
class Prometheus {
 public:
  Prometheus(const std::string& dir, const std::string& config_text) {
    writeFile(dir + "/prometheus.yml", config_text);
    for (int attempt = 0; attempt < 3 && url_.empty(); ++attempt) {
      int port = agentd::testing::unusedLoopbackPort();
      proc_ = std::make_unique<Subprocess>(std::vector<std::string>{
          AGENTD_PROMETHEUS, "--config.file=" + dir + "/prometheus.yml",
          "--storage.tsdb.path=" + dir + "/data",
          "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=info"});
      if (!proc_->waitForStderr("Server is ready to receive web requests", 60s).empty()) {
        url_ = "http://127.0.0.1:" + std::to_string(port);
      } else {
        log_ += proc_->stderrText();
        stop();
      }
    }
  }
  ~Prometheus() { stop(); }
  void stop() {
    if (!proc_) return;
    proc_->signal(SIGTERM);
    if (proc_->wait(15s) < 0) {
      proc_->signal(SIGKILL);
      proc_->wait(5s);
    }
    proc_.reset();
  }
  bool ok() const { return !url_.empty(); }
  std::string log() { return log_ + (proc_ ? proc_->stderrText() : ""); }

  // GET /api/v1/query; returns the parsed response (status, data.result).
  rapidjson::Document query(const std::string& promql) {
    HttpResponse r = httpGet(url_ + "/api/v1/query?query=" + urlEncode(promql), 10000);
    auto d = json::parse(r.body);
    if (!d.ok()) {
      rapidjson::Document e;
      e.Parse(R"({"status":"transport","error":""})");
      return e;
    }
    return std::move(*d);
  }
  HttpResponse get(const std::string& path) { return httpGet(url_ + path, 10000); }

 private:
  std::unique_ptr<Subprocess> proc_;
  std::string url_, log_;
};

double firstValue(const rapidjson::Document& d) {
  if (!d.HasMember("data") || !d["data"]["result"].IsArray() || d["data"]["result"].Empty()) {
    return -1;
  }
  return std::stod(d["data"]["result"][0]["value"][1].GetString());
}

TEST(Prometheus, ScrapesAgentdLoadsTheAlertsAndAnswersTheDashboard) {
  FullAgentd full;
  ASSERT_TRUE(full.ok()) << full.why();
  std::string dir = freshDir("prometheus");

  // The alert rules, from the PrometheusRule (the one source).
  RunResult rules = run(
      {AGENTD_NODE, kSource + "/tests/k8s/check.mjs", "rules", dir + "/agentd-rules.yaml"}, 60s);
  ASSERT_EQ(rules.code, 0) << rules.output;

  Prometheus prom(dir,
                  "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                  "  evaluation_interval: 1s\n"
                  "rule_files:\n  - " +
                      dir +
                      "/agentd-rules.yaml\n"
                      "scrape_configs:\n  - job_name: agentd\n    static_configs:\n"
                      "      - targets: ['" +
                      full.agentd->metricsAddress() +
                      "']\n"
                      "        labels:\n          namespace: agentd-test\n");
  ASSERT_TRUE(prom.ok()) << prom.log();

  // Bounded wait for the first successful scrape.
  double up = -1;
  for (auto deadline = Clock::now() + 30s; Clock::now() < deadline && up != 1;) {
    up = firstValue(prom.query("up{job=\"agentd\"}"));
    if (up != 1) std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(up, 1) << "Prometheus never scraped agentd\n" << prom.log();

  rapidjson::Document build = prom.query("agentd_build_info");
  ASSERT_EQ(firstValue(build), 1) << json::write(build);
  const auto& labels = build["data"]["result"][0]["metric"];
  EXPECT_STREQ(labels["job"].GetString(), "agentd");
  EXPECT_FALSE(std::string(labels["version"].GetString()).empty());
  EXPECT_STREQ(labels["abi"].GetString(), "1.1");
  EXPECT_GE(firstValue(prom.query("agentd_tasks_total{result=\"completed\"}")), 1);
  EXPECT_EQ(firstValue(prom.query("agentd_tasks{state=\"running\"}")), 0);

  // The rules loaded and evaluated without error against real agentd series.
  bool evaluated = false;
  std::string rules_body;
  for (auto deadline = Clock::now() + 30s; Clock::now() < deadline && !evaluated;) {
    rules_body = prom.get("/api/v1/rules").body;
    auto d = json::parse(rules_body);
    int count = 0, done = 0;
    if (d.ok() && d->HasMember("data")) {
      for (const auto& g : (*d)["data"]["groups"].GetArray()) {
        for (const auto& r : g["rules"].GetArray()) {
          ++count;
          EXPECT_STREQ(r["health"].GetString(), "ok") << json::write(r);
          if (std::string(r["lastEvaluation"].GetString()).rfind("0001-", 0) != 0) ++done;
        }
      }
    }
    evaluated = count >= 9 && done == count;
    if (!evaluated) std::this_thread::sleep_for(300ms);
  }
  EXPECT_TRUE(evaluated) << rules_body;
  // Nothing fires on a healthy agentd (a fresh `for` keeps them pending at most).
  HttpResponse alerts = prom.get("/api/v1/alerts");
  EXPECT_EQ(alerts.body.find("\"state\":\"firing\""), std::string::npos) << alerts.body;

  // Every dashboard query is valid PromQL for this Prometheus and, once two scrapes exist for
  // the rates, returns data — except those that are empty on a healthy agentd by design.
  std::this_thread::sleep_for(2500ms);
  const std::set<std::string> empty_when_healthy = {
      "Agents not ready",                // `> 0` over the not-ready states
      "Plugin load failures by reason",  // no failure series: every plugin loaded
  };
  auto dash = json::parse(readText(kSource + "/deploy/grafana/agentd-dashboard.json"));
  ASSERT_TRUE(dash.ok());
  int queries = 0;
  std::function<void(const rapidjson::Value&)> walk = [&](const rapidjson::Value& panels) {
    for (const auto& p : panels.GetArray()) {
      if (p.HasMember("panels")) walk(p["panels"]);
      if (!p.HasMember("targets")) continue;
      std::string title = p["title"].GetString();
      for (const auto& t : p["targets"].GetArray()) {
        std::string expr = t["expr"].GetString();
        expr = std::regex_replace(expr, std::regex("\\$__rate_interval"), "1m");
        expr = std::regex_replace(expr, std::regex("\\$(namespace|instance)"), ".*");
        ASSERT_EQ(expr.find('$'), std::string::npos) << "unknown variable in " << expr;
        rapidjson::Document r = prom.query(expr);
        ++queries;
        ASSERT_TRUE(r.HasMember("status")) << expr;
        EXPECT_STREQ(r["status"].GetString(), "success") << title << ": " << expr << "\n"
                                                         << json::write(r);
        bool has_data = r.HasMember("data") && !r["data"]["result"].Empty();
        if (!empty_when_healthy.count(title)) {
          EXPECT_TRUE(has_data) << title << ": no data for " << expr;
        }
      }
    }
  };
  walk((*dash)["panels"]);
  EXPECT_GE(queries, 30);

  prom.stop();
}

}  // namespace
}  // namespace agentd::testing
