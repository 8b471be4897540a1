// Loads the built bash.so and drives it through the C ABI against real bash processes.
#include <stdlib.h>
#include <sys/wait.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "unit/plugins/plugin_harness.h"
#include "unit/plugins/test_files.h"

namespace agentd::plugintest {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kTool = "bash";

std::string cmd(const std::string& command) { return R"({"command":)" + quote(command) + "}"; }

class BashTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(plugin_.loadError(), ""); }
  void TearDown() override {
    // Every session this test started must be gone once its task ended.
    for (const auto& [task, pid] : sessions_) {
      plugin_.endTask(task);
      EXPECT_TRUE(waitFor([pid = pid] { return liveProcessesInSession(pid).empty(); }, seconds(5)))
          << "processes left in session " << pid;
    }
  }

  void create(const std::string& config = "{}") {
    ASSERT_EQ(plugin_.create(config), AGENTD_OK) << plugin_.lastError();
  }

  CallResult run(const std::string& command, const std::string& task = "task-1",
                 const std::atomic<bool>* cancelled = nullptr) {
    CallOptions o;
    o.task_id = task;
    o.working_dir = dir_.path();
    o.cancelled = cancelled;
    return plugin_.invokeWith(kTool, cmd(command), o);
  }

  // Runs command, expects success, returns its output.
  std::string ok(const std::string& command, const std::string& task = "task-1") {
    CallResult r = run(command, task);
    EXPECT_EQ(r.status, AGENTD_OK) << "`" << command << "` failed: " << r.error;
    EXPECT_FALSE(r.emitted_json);
    return r.text;
  }

  // The pid of the task's bash (also its process group and session id); remembered so that
  // TearDown checks nothing of the session survives.
  pid_t sessionPid(const std::string& task = "task-1") {
    std::string out = ok("echo $$", task);
    pid_t pid = static_cast<pid_t>(std::stol(out));
    sessions_.emplace_back(task, pid);
    return pid;
  }

  TempDir dir_;
  LoadedPlugin plugin_{AGENTD_PLUGIN_DIR "/bash.so"};
  std::vector<std::pair<std::string, pid_t>> sessions_;
};
using bash = BashTest;

TEST_F(bash, DescriptorAndToolMatchTraeAgent) {
  create();
  const agentd_plugin* d = plugin_.descriptor();
  EXPECT_EQ(d->kind, AGENTD_KIND_TOOL);
  EXPECT_STREQ(d->name, "bash");
  EXPECT_NE(d->end_task, nullptr);
  EXPECT_EQ(propertyNames(parseJson(d->config_schema)),
            (std::vector<std::string>{"env_allow", "env_deny", "timeout_seconds", "working_dir"}));

  std::vector<ListedTool> tools = plugin_.listTools();
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0].name, "bash");
  EXPECT_NE(tools[0].description.find("Run commands in a bash shell"), std::string::npos);
  rapidjson::Document schema = parseJson(tools[0].input_schema);
  EXPECT_EQ(propertyNames(schema), (std::vector<std::string>{"command", "restart"}));
  EXPECT_EQ(requiredNames(schema), std::vector<std::string>{"command"});
  EXPECT_STREQ(schema["properties"]["command"]["type"].GetString(), "string");
  EXPECT_STREQ(schema["properties"]["restart"]["type"].GetString(), "boolean");
}

TEST_F(bash, RunsInTheTaskWorkingDirectoryAndKeepsState) {
  create();
  EXPECT_EQ(ok("pwd"), dir_.path());
  ok("mkdir -p sub/deeper && cd sub && export AGENTD_TEST_VAR_X=1 GREETING=hello && shopt -s "
     "nullglob && alias ll='ls -l' && f() { echo from-function; }");
  EXPECT_EQ(ok("pwd"), dir_ / "sub");
  EXPECT_EQ(ok("echo $GREETING; f; shopt -q nullglob && echo nullglob-on"),
            "hello\nfrom-function\nnullglob-on");
  EXPECT_EQ(ok("cd deeper; pwd"), dir_ / "sub/deeper");
  EXPECT_EQ(ok("pwd"), dir_ / "sub/deeper");
  EXPECT_EQ(ok("declare -A m=([k]=v); echo ${m[k]}"), "v");
  EXPECT_EQ(ok("echo ${m[k]}"), "v");  // declarations stay global (no function wrapper)
}

TEST_F(bash, UsesConfiguredOrProcessDirectoryWithoutContext) {
  create(R"({"working_dir":")" + dir_.path() + R"("})");
  CallResult r = plugin_.invoke(kTool, cmd("pwd"), "no-context");
  ASSERT_EQ(r.status, AGENTD_OK) << r.error;
  EXPECT_EQ(r.text, dir_.path());
  plugin_.endTask("no-context");

  LoadedPlugin other(AGENTD_PLUGIN_DIR "/bash.so");
  ASSERT_EQ(other.create(), AGENTD_OK);
  r = other.invoke(kTool, cmd("pwd"), "no-context");
  ASSERT_EQ(r.status, AGENTD_OK) << r.error;
  EXPECT_EQ(r.text, std::filesystem::current_path().string());
  other.endTask("no-context");
}

TEST_F(bash, InterleavesStdoutAndStderrInOrder) {
  create();
  EXPECT_EQ(ok("echo one; echo two >&2; echo three; echo four 1>&2"), "one\ntwo\nthree\nfour");
  EXPECT_EQ(ok("printf 'no newline'"), "no newline");
  EXPECT_EQ(ok("true"), "");
}

TEST_F(bash, NonZeroExitFailsWithCodeAndOutput) {
  create();
  CallResult r = run("echo partial; echo oops >&2; (exit 3)");
  EXPECT_EQ(r.status, AGENTD_ERR);
  EXPECT_EQ(r.error, "Exit code 3. Output:\npartial\noops");
  EXPECT_FALSE(r.emitted_text);

  r = run("false");
  EXPECT_EQ(r.status, AGENTD_ERR);
  EXPECT_EQ(r.error, "Exit code 1 (no output)");

  r = run("ls /definitely/not/here");
  EXPECT_EQ(r.status, AGENTD_ERR);
  EXPECT_NE(r.error.find("Exit code 2"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("No such file or directory"), std::string::npos) << r.error;
  EXPECT_EQ(ok("echo still alive"), "still alive");  // the session survives failures
}

TEST_F(bash, SyntaxErrorsAndUnbalancedQuotesDoNotBreakTheSession) {
  create();
  CallResult r = run("if then fi");
  EXPECT_EQ(r.status, AGENTD_ERR);
  EXPECT_NE(r.error.find("syntax error"), std::string::npos) << r.error;
  r = run("echo 'unterminated");
  EXPECT_EQ(r.status, AGENTD_ERR);
  EXPECT_NE(r.error.find("unexpected EOF"), std::string::npos) << r.error;
  EXPECT_EQ(ok("echo fine"), "fine");
  // Here-documents, sentinel look-alikes and set -x inside commands are plain text to us.
  EXPECT_EQ(ok("cat <<'EOF'\nline $HOME\nEOF"), "line $HOME");
  EXPECT_EQ(ok("echo ',,,,bash-command-exit-0-banner,,,,'; echo after"),
            ",,,,bash-command-exit-0-banner,,,,\nafter");
  std::string traced = ok("set -x; echo traced; set +x");
  EXPECT_NE(traced.find("traced"), std::string::npos);
  EXPECT_EQ(ok("echo untraced"), "untraced");
}

TEST_F(bash, CommandsReadNoInput) {
  create();
  auto start = Clock::now();
  EXPECT_EQ(ok("read line; echo \"got:[$line]\"; cat; echo done"), "got:[]\ndone");
  EXPECT_LT(Clock::now() - start, seconds(5));
}

TEST_F(bash, InvalidUtf8IsReplaced) {
  create();
  EXPECT_EQ(ok(R"(printf 'a\xffb\xc3')"),
            "a\xef\xbf\xbd"
            "b\xef\xbf\xbd");
}

TEST_F(bash, ExitEndsTheSessionUntilRestart) {
  create();
  CallResult r = run("echo bye; exit 7");
  EXPECT_EQ(r.status, AGENTD_ERR);
  EXPECT_NE(r.error.find("bash has exited with returncode 7. tool must be restarted."),
            std::string::npos)
      << r.error;
  EXPECT_NE(r.error.find("bye"), std::string::npos) << r.error;
  r = run("echo again");
  EXPECT_EQ(r.status, AGENTD_ERR);
  EXPECT_NE(r.error.find("must be restarted"), std::string::npos) << r.error;

  CallResult restarted = plugin_.invokeWith(kTool, R"({"command":"","restart":true})",
                                            CallOptions{"task-1", dir_.path(), nullptr});
  ASSERT_EQ(restarted.status, AGENTD_OK) << restarted.error;
  EXPECT_EQ(restarted.text, "tool has been restarted.");
  EXPECT_EQ(ok("echo again"), "again");
}

TEST_F(bash, RestartGivesAFreshSessionAndKillsTheOldOne) {
  create();
  pid_t old_pid = sessionPid();
  ok("export KEEP=1; cd /; sleep 60 &");
  CallResult r =
      plugin_.invokeWith(kTool, R"({"restart":true})", CallOptions{"task-1", dir_.path(), nullptr});
  ASSERT_EQ(r.status, AGENTD_OK) << r.error;
  EXPECT_EQ(r.text, "tool has been restarted.");
  EXPECT_TRUE(waitFor([&] { return liveProcessesInSession(old_pid).empty(); }, seconds(5)));
  EXPECT_EQ(ok("echo ${KEEP:-unset}; pwd"), "unset\n" + dir_.path());
  EXPECT_NE(sessionPid(), old_pid);
}

TEST_F(bash, TimeoutKillsTheCommandAndRequiresRestart) {
  create(R"({"timeout_seconds":0.5})");
  pid_t pid = sessionPid();
  auto start = Clock::now();
  CallResult r = run("echo started; sleep 30");
  EXPECT_LT(Clock::now() - start, seconds(5));
  EXPECT_EQ(r.status, AGENTD_ETIMEDOUT);
  EXPECT_NE(r.error.find("timed out: bash has not returned in 0.5 seconds and must be restarted"),
            std::string::npos)
      << r.error;
  EXPECT_NE(r.error.find("started"), std::string::npos) << r.error;  // output so far
  EXPECT_TRUE(waitFor([&] { return liveProcessesInSession(pid).empty(); }, seconds(5)));

  r = run("echo hi");
  EXPECT_EQ(r.status, AGENTD_ERR);
  EXPECT_NE(r.error.find("must be restarted"), std::string::npos) << r.error;
  ASSERT_EQ(plugin_
                .invokeWith(kTool, R"({"command":"echo x","restart":true})",
                            CallOptions{"task-1", dir_.path(), nullptr})
                .status,
            AGENTD_OK);
  EXPECT_EQ(ok("echo hi"), "hi");
}

TEST_F(bash, ReconfigureChangesTheTimeout) {
  create(R"({"timeout_seconds":30})");
  const agentd_plugin* d = plugin_.descriptor();
  EXPECT_EQ(d->reconfigure(plugin_.instance(), view(R"({"timeout_seconds":-1})")), AGENTD_EINVAL);
  EXPECT_EQ(d->reconfigure(plugin_.instance(), view(R"({"timeout_seconds":0.3})")), AGENTD_OK);
  auto start = Clock::now();
  EXPECT_EQ(run("sleep 20").status, AGENTD_ETIMEDOUT);
  EXPECT_LT(Clock::now() - start, seconds(5));
}

TEST_F(bash, ClipsLongOutputWithTraeMarker) {
  create();
  std::string out = ok("seq 1 20000");
  ASSERT_GT(out.size(), 16000u);
  EXPECT_EQ(out.substr(0, 8), "1\n2\n3\n4\n");
  ASSERT_EQ(out.size(), 16000 + std::string(kClippedMarker).size());
  EXPECT_EQ(out.substr(16000), kClippedMarker);

  // Characters, not bytes: 16,000 two-byte characters are kept whole.
  out = ok("for i in $(seq 1 1700); do printf 'éééééééééé'; done");
  EXPECT_EQ(out.substr(out.size() - std::string(kClippedMarker).size()), kClippedMarker);
  EXPECT_EQ(out.size(), 32000 + std::string(kClippedMarker).size());

  // Output far beyond what is kept still finishes promptly and reports the exit code.
  auto start = Clock::now();
  CallResult r = run("head -c 20000000 /dev/zero | tr '\\0' 'x'; exit_code=4; (exit 4)");
  EXPECT_LT(Clock::now() - start, seconds(30));
  EXPECT_EQ(r.status, AGENTD_ERR);
  EXPECT_EQ(r.error.rfind("Exit code 4. Output:\nxxxx", 0), 0u) << r.error.substr(0, 100);
  EXPECT_EQ(r.error.substr(r.error.size() - std::string(kClippedMarker).size()), kClippedMarker);
  EXPECT_EQ(ok("echo short"), "short");
}

TEST_F(bash, ScrubsSecretsFromTheEnvironment) {
  setenv("FAKE_API_KEY", "sk-should-not-leak", 1);
  setenv("GITHUB_TOKEN", "ghp-should-not-leak", 1);
  setenv("DB_PASSWORD", "pw-should-not-leak", 1);
  setenv("my_client_secret", "lower-should-not-leak", 1);
  setenv("GCP_CREDENTIALS_FILE", "cred-should-not-leak", 1);
  setenv("AGENTD_INTERNAL_SETTING", "agentd-should-not-leak", 1);
  setenv("HARMLESS_SETTING", "visible", 1);
  create();
  std::string env = ok("env");
  for (const char* leaked : {"should-not-leak", "FAKE_API_KEY", "GITHUB_TOKEN", "DB_PASSWORD",
                             "my_client_secret", "GCP_CREDENTIALS", "AGENTD_INTERNAL"}) {
    EXPECT_EQ(env.find(leaked), std::string::npos) << leaked << " leaked into:\n" << env;
  }
  EXPECT_NE(env.find("HARMLESS_SETTING=visible"), std::string::npos) << env;
  EXPECT_NE(env.find("PATH="), std::string::npos) << env;
  plugin_.endTask("task-1");

  LoadedPlugin configured(AGENTD_PLUGIN_DIR "/bash.so");
  ASSERT_EQ(configured.create(R"({"env_allow":["FAKE_API_*"],"env_deny":["HARMLESS_*"]})"),
            AGENTD_OK)
      << configured.lastError();
  CallResult r = configured.invokeWith(kTool, cmd("env"), CallOptions{"t", dir_.path(), nullptr});
  ASSERT_EQ(r.status, AGENTD_OK) << r.error;
  EXPECT_NE(r.text.find("FAKE_API_KEY=sk-should-not-leak"), std::string::npos) << r.text;
  EXPECT_EQ(r.text.find("HARMLESS_SETTING"), std::string::npos) << r.text;
  EXPECT_EQ(r.text.find("GITHUB_TOKEN"), std::string::npos) << r.text;
  configured.endTask("t");
  for (const char* name : {"FAKE_API_KEY", "GITHUB_TOKEN", "DB_PASSWORD", "my_client_secret",
                           "GCP_CREDENTIALS_FILE", "AGENTD_INTERNAL_SETTING", "HARMLESS_SETTING"}) {
    unsetenv(name);
  }
}

TEST_F(bash, CancellationKillsTheRunningCommandPromptly) {
  create();
  pid_t pid = sessionPid();
  std::string child = ok("sleep 300 & echo $!");  // a background job of the session
  std::atomic<bool> cancel{false};
  CallResult r;
  auto start = Clock::now();
  std::thread t([&] { r = run("sleep 30", "task-1", &cancel); });
  std::this_thread::sleep_for(milliseconds(300));
  cancel = true;
  t.join();
  EXPECT_LT(Clock::now() - start, seconds(3));
  EXPECT_EQ(r.status, AGENTD_ECANCELED);
  EXPECT_NE(r.error.find("cancelled"), std::string::npos) << r.error;
  EXPECT_TRUE(waitFor([&] { return liveProcessesInSession(pid).empty(); }, seconds(5)))
      << "left: " << liveProcessesInSession(pid).size();
  EXPECT_FALSE(processAlive(static_cast<pid_t>(std::stol(child))));

  // The session is gone; the next call says so until it is restarted.
  r = run("echo x");
  EXPECT_EQ(r.status, AGENTD_ERR);
  EXPECT_NE(r.error.find("must be restarted"), std::string::npos) << r.error;
}

TEST_F(bash, CancelledBeforeStartingReturnsAtOnce) {
  create();
  std::atomic<bool> cancel{true};
  auto start = Clock::now();
  CallResult r = run("sleep 30", "task-1", &cancel);
  EXPECT_EQ(r.status, AGENTD_ECANCELED);
  EXPECT_LT(Clock::now() - start, seconds(3));
}

TEST_F(bash, TasksRunInParallelAndCallsOfOneTaskSerialize) {
  create();
  sessionPid("a");
  sessionPid("b");
  auto start = Clock::now();
  std::thread ta([&] { EXPECT_EQ(ok("sleep 2; echo a", "a"), "a"); });
  std::thread tb([&] { EXPECT_EQ(ok("sleep 2; echo b", "b"), "b"); });
  ta.join();
  tb.join();
  auto parallel = Clock::now() - start;  // one after the other would take 4 s
  EXPECT_LT(parallel, milliseconds(3500)) << "different tasks did not run in parallel";

  // Same task: the second call waits for the first and sees its state.
  start = Clock::now();
  std::thread first([&] { EXPECT_EQ(ok("sleep 0.6; export ORDER=first; echo 1", "a"), "1"); });
  std::this_thread::sleep_for(milliseconds(100));
  std::string second = ok("echo $ORDER", "a");
  first.join();
  EXPECT_EQ(second, "first");
  EXPECT_GE(Clock::now() - start, milliseconds(600));
}

TEST_F(bash, ACallWaitingForItsTaskCanBeCancelled) {
  create();
  sessionPid();
  CallResult first;
  std::thread t([&] { first = run("sleep 1.5; echo first"); });
  std::this_thread::sleep_for(milliseconds(200));
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(200));
    cancel = true;
  });
  auto start = Clock::now();
  CallResult waiting = run("echo never", "task-1", &cancel);
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
  canceller.join();
  t.join();
  EXPECT_EQ(waiting.status, AGENTD_ECANCELED);
  EXPECT_NE(waiting.error.find("waiting"), std::string::npos) << waiting.error;
  EXPECT_EQ(first.status, AGENTD_OK) << first.error;  // the running command was not disturbed
  EXPECT_EQ(first.text, "first");
  EXPECT_EQ(ok("echo next"), "next");
}

TEST_F(bash, SessionsOfTasksAreSeparate) {
  create();
  ok("export WHO=a; cd /", "a");
  EXPECT_EQ(ok("echo ${WHO:-none}; pwd", "b"), "none\n" + dir_.path());
  EXPECT_EQ(ok("echo $WHO; pwd", "a"), "a\n/");
  EXPECT_NE(sessionPid("a"), sessionPid("b"));
}

TEST_F(bash, EndTaskKillsTheSessionAndItsJobs) {
  create();
  pid_t pid = sessionPid();
  std::string job = ok("sleep 300 >/dev/null 2>&1 & echo $!");
  ASSERT_TRUE(processAlive(static_cast<pid_t>(std::stol(job))));
  plugin_.endTask("task-1");
  EXPECT_TRUE(waitFor([&] { return liveProcessesInSession(pid).empty(); }, seconds(5)));
  EXPECT_FALSE(processAlive(static_cast<pid_t>(std::stol(job))));
  EXPECT_FALSE(processAlive(pid));
  errno = 0;
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1) << "bash was not reaped by the plugin";
  EXPECT_EQ(errno, ECHILD);
  // A later call of the same id starts a fresh session.
  EXPECT_NE(sessionPid(), pid);
  plugin_.endTask("never-started");
}

TEST_F(bash, EndTaskDuringACommandStopsIt) {
  create();
  pid_t pid = sessionPid();
  CallResult r;
  auto start = Clock::now();
  std::thread t([&] { r = run("sleep 30"); });
  std::this_thread::sleep_for(milliseconds(300));
  plugin_.endTask("task-1");
  t.join();
  EXPECT_LT(Clock::now() - start, seconds(3));
  EXPECT_EQ(r.status, AGENTD_ECANCELED);
  EXPECT_NE(r.error.find("task ended"), std::string::npos) << r.error;
  EXPECT_TRUE(waitFor([&] { return liveProcessesInSession(pid).empty(); }, seconds(5)));
}

TEST_F(bash, DestroyKillsEverySession) {
  pid_t pid = 0;
  {
    LoadedPlugin p(AGENTD_PLUGIN_DIR "/bash.so");
    ASSERT_EQ(p.create(), AGENTD_OK);
    CallResult r = p.invoke(kTool, cmd("sleep 300 >/dev/null 2>&1 & echo $$"), "x");
    ASSERT_EQ(r.status, AGENTD_OK) << r.error;
    pid = static_cast<pid_t>(std::stol(r.text));
    ASSERT_FALSE(liveProcessesInSession(pid).empty());
  }
  EXPECT_TRUE(waitFor([&] { return liveProcessesInSession(pid).empty(); }, seconds(5)));
}

TEST_F(bash, RejectsBadArguments) {
  create();
  EXPECT_EQ(plugin_.invoke(kTool, "{}").status, AGENTD_EINVAL);
  EXPECT_EQ(plugin_.invoke(kTool, "{}").error, "No command provided for the bash tool");
  EXPECT_EQ(plugin_.invoke(kTool, R"({"command":7})").status, AGENTD_EINVAL);
  EXPECT_EQ(plugin_.invoke(kTool, R"({"command":"x","restart":"yes"})").status, AGENTD_EINVAL);
  EXPECT_EQ(plugin_.invoke(kTool, "not json").status, AGENTD_EINVAL);
  EXPECT_EQ(plugin_.invoke("shell", cmd("true")).status, AGENTD_ENOTFOUND);
}

TEST_F(bash, MissingWorkingDirectoryIsAnError) {
  create();
  CallResult r =
      plugin_.invokeWith(kTool, cmd("pwd"), CallOptions{"task-1", dir_ / "missing", nullptr});
  EXPECT_EQ(r.status, AGENTD_ERR);
  EXPECT_NE(r.error.find("Error starting bash session"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("missing"), std::string::npos) << r.error;
}

TEST_F(bash, RejectsBadConfig) {
  for (const char* bad :
       {R"({"timeout_seconds":0})", R"({"timeout_seconds":"5"})", R"({"env_allow":"X"})",
        R"({"env_deny":[1]})", R"({"shell":"/bin/sh"})", "[]"}) {
    EXPECT_EQ(plugin_.create(bad), AGENTD_EINVAL) << bad;
    EXPECT_NE(plugin_.lastError(), "") << bad;
  }
}

}  // namespace
}  // namespace agentd::plugintest
