// Plugin "bash": one tool, `bash`, running commands in a persistent bash session per task.
// Mirrors trae-agent's BashTool (trae_agent/tools/bash_tool.py): same name and parameters,
// 120 s default timeout after which the session must be restarted, output clipped at 16,000
// characters with trae's marker. Sessions are keyed by the call context "task_id", start in
// the task's "working_dir", get an environment without secrets, and die with their task.
#include <fnmatch.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <unistd.h>
#include <agentd/plugin.hpp>

#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bash_session.h"
#include "plugin_json.h"
#include "tool_text.h"

extern char** environ;

namespace {

using agentd::bash::BashSession;
using agentd::bash::RunOutcome;
using agentd::bash::RunResult;
using agentd::sdk::Error;

constexpr const char* kToolName = "bash";
constexpr const char* kDescription =
    "Run commands in a bash shell\n"
    "* When invoking this tool, the contents of the \"command\" parameter does NOT need to be "
    "XML-escaped.\n"
    "* State is persistent across command calls and discussions with the user.\n"
    "* To inspect a particular line range of a file, e.g. lines 10-25, try 'sed -n 10,25p "
    "/path/to/the/file'.\n"
    "* Please avoid commands that may produce a very large amount of output.\n"
    "* Please run long lived commands in the background, e.g. 'sleep 10 &' or start a server in "
    "the background.\n"
    "* Commands read no input (stdin is /dev/null); a command that runs past the timeout is "
    "killed and the session must be restarted with `restart`.\n";

constexpr const char* kInputSchema =
    R"({"type":"object","properties":{)"
    R"("command":{"type":"string","description":"The bash command to run."},)"
    R"("restart":{"type":"boolean","description":"Set to true to restart the bash session."}},)"
    R"("required":["command"]})";

constexpr const char* kConfigSchema =
    R"({"type":"object","properties":{)"
    R"("timeout_seconds":{"type":"number","minimum":0,"exclusiveMinimum":true},)"
    R"("working_dir":{"type":"string"},)"
    R"("env_allow":{"type":"array","items":{"type":"string"}},)"
    R"("env_deny":{"type":"array","items":{"type":"string"}}},)"
    R"("additionalProperties":false})";

struct Config {
  double timeout_seconds = 120.0;
  std::string working_dir;             // used when the call has no "working_dir"
  std::vector<std::string> env_allow;  // fnmatch patterns kept although they look secret
  std::vector<std::string> env_deny;   // fnmatch patterns always dropped
};

using agentd::plugins::parseObject;

std::vector<std::string> stringList(const rapidjson::Value& v, const char* key) {
  if (!v.IsArray()) throw Error(AGENTD_EINVAL, std::string(key) + " must be an array of strings");
  std::vector<std::string> out;
  for (const auto& item : v.GetArray()) {
    if (!item.IsString()) {
      throw Error(AGENTD_EINVAL, std::string(key) + " must be an array of strings");
    }
    out.emplace_back(item.GetString(), item.GetStringLength());
  }
  return out;
}

// Throws Error(AGENTD_EINVAL) on a bad config.
Config parseConfig(std::string_view json) {
  rapidjson::Document doc = parseObject(json.empty() ? "{}" : json, "config");
  Config c;
  for (const auto& m : doc.GetObject()) {
    std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (key == "timeout_seconds") {
      if (!m.value.IsNumber() || !(m.value.GetDouble() > 0) ||
          !std::isfinite(m.value.GetDouble())) {
        throw Error(AGENTD_EINVAL, "timeout_seconds must be a number > 0");
      }
      c.timeout_seconds = m.value.GetDouble();
    } else if (key == "working_dir") {
      if (!m.value.IsString()) throw Error(AGENTD_EINVAL, "working_dir must be a string");
      c.working_dir.assign(m.value.GetString(), m.value.GetStringLength());
    } else if (key == "env_allow") {
      c.env_allow = stringList(m.value, "env_allow");
    } else if (key == "env_deny") {
      c.env_deny = stringList(m.value, "env_deny");
    } else {
      throw Error(AGENTD_EINVAL, "unknown config key: " + std::string(key));
    }
  }
  return c;
}

bool containsUpper(std::string_view name, std::string_view word) {
  if (word.size() > name.size()) return false;
  for (size_t i = 0; i + word.size() <= name.size(); ++i) {
    size_t j = 0;
    while (j < word.size() && std::toupper(static_cast<unsigned char>(name[i + j])) == word[j]) {
      ++j;
    }
    if (j == word.size()) return true;
  }
  return false;
}

// Variables that look like secrets: names containing KEY, TOKEN, SECRET, PASSWORD or
// CREDENTIAL (any case), and everything of agentd itself (AGENTD_*).
bool looksSecret(std::string_view name) {
  for (std::string_view w : {"KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"}) {
    if (containsUpper(name, w)) return true;
  }
  return name.size() >= 7 && containsUpper(name.substr(0, 7), "AGENTD_");
}

bool matchesAny(const std::vector<std::string>& patterns, const std::string& name) {
  for (const std::string& p : patterns) {
    if (::fnmatch(p.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

// The host's environment minus secrets, as "NAME=value" strings.
std::vector<std::string> scrubbedEnvironment(const Config& c) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    std::string name(entry.substr(0, eq));
    bool keep = !looksSecret(name) || matchesAny(c.env_allow, name);
    if (matchesAny(c.env_deny, name)) keep = false;
    if (keep) env.emplace_back(entry);
  }
  return env;
}

std::string outputOf(const RunResult& r) {
  return agentd::filetools::clip(agentd::filetools::sanitizeUtf8(r.output), r.truncated);
}

std::string formatSeconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

// One task's bash session. A call of the task holds its turn (TaskTurn) for its whole run.
struct Task {
  std::mutex turn_mu;
  std::condition_variable turn_cv;
  bool busy = false;                     // guarded by turn_mu: a call holds the turn
  std::unique_ptr<BashSession> session;  // used by the turn holder; replaced under session_mu
  std::mutex session_mu;                 // lets endTask reach `session` while a call runs
  std::string broken;                    // turn holder only; why the session must be restarted
  bool ended = false;                    // guarded by session_mu

  void replaceSession(std::unique_ptr<BashSession> next) {
    std::unique_ptr<BashSession> old;
    {
      std::lock_guard<std::mutex> lock(session_mu);
      old = std::move(session);
      session = std::move(next);
      if (ended && session) session->terminate();  // endTask raced with a (re)start
    }
    // old is destroyed here: its processes are killed and bash is reaped.
  }
};

// Waits (cancellably) until no other call of the task runs, then holds the task until destroyed.
class TaskTurn {
 public:
  TaskTurn(Task& task, const agentd::sdk::Call& call) : task_(task) {
    std::unique_lock<std::mutex> lock(task_.turn_mu);
    while (task_.busy) {
      task_.turn_cv.wait_for(lock, std::chrono::milliseconds(50));
      if (task_.busy && call.cancelled()) {
        throw Error(AGENTD_ECANCELED, "cancelled while waiting for the task's previous command");
      }
    }
    task_.busy = true;
  }
  ~TaskTurn() {
    {
      std::lock_guard<std::mutex> lock(task_.turn_mu);
      task_.busy = false;
    }
    task_.turn_cv.notify_one();
  }
  TaskTurn(const TaskTurn&) = delete;
  TaskTurn& operator=(const TaskTurn&) = delete;

 private:
  Task& task_;
};

class Bash : public agentd::sdk::Plugin {
 public:
  Bash(agentd::sdk::Host host, std::string_view config_json)
      : host_(host), config_(std::make_shared<const Config>(parseConfig(config_json))) {}

  ~Bash() override {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.clear();  // nothing runs concurrently with destroy; each session dies here
  }

  void listTools(const agentd::sdk::ToolList& tools) override {
    tools.add(kToolName, kDescription, kInputSchema);
  }

  void invoke(const agentd::sdk::Call& call, std::string_view tool,
              std::string_view args_json) override {
    if (tool != kToolName) throw Error(AGENTD_ENOTFOUND, "unknown tool: " + std::string(tool));
    rapidjson::Document args = parseObject(args_json, "arguments");
    bool restart = false;
    if (auto it = args.FindMember("restart"); it != args.MemberEnd() && !it->value.IsNull()) {
      if (!it->value.IsBool()) throw Error(AGENTD_EINVAL, "restart must be a boolean");
      restart = it->value.GetBool();
    }
    std::string command;
    bool has_command = false;
    if (auto it = args.FindMember("command"); it != args.MemberEnd() && !it->value.IsNull()) {
      if (!it->value.IsString()) throw Error(AGENTD_EINVAL, "command must be a string");
      command.assign(it->value.GetString(), it->value.GetStringLength());
      has_command = true;
    }
    if (!restart && !has_command) {
      throw Error(AGENTD_EINVAL, "No command provided for the bash tool");
    }
    if (command.find('\0') != std::string::npos) {
      throw Error(AGENTD_EINVAL, "command must not contain NUL characters");
    }

    std::shared_ptr<const Config> config = currentConfig();
    std::shared_ptr<Task> task = taskFor(call.context("task_id"));
    TaskTurn turn(*task, call);
    {
      std::lock_guard<std::mutex> guard(task->session_mu);
      if (task->ended) throw Error(AGENTD_ECANCELED, "the task ended; its bash session is closed");
    }

    if (restart) {
      task->replaceSession(nullptr);
      task->replaceSession(startSession(call, *config));
      task->broken.clear();
      call.emit("tool has been restarted.");
      return;
    }
    if (!task->broken.empty()) throw Error(AGENTD_ERR, task->broken);
    if (!task->session) task->replaceSession(startSession(call, *config));

    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(config->timeout_seconds));
    RunResult r = task->session->run(command, deadline, [&call] { return call.cancelled(); });
    switch (r.outcome) {
      case RunOutcome::kDone:
        if (r.exit_code == 0) {
          call.emit(outputOf(r));
          return;
        }
        throw Error(AGENTD_ERR,
                    "Exit code " + std::to_string(r.exit_code) +
                        (r.output.empty() ? " (no output)" : ". Output:\n" + outputOf(r)));
      case RunOutcome::kTimedOut: {
        task->broken = "timed out: bash has not returned in " +
                       formatSeconds(config->timeout_seconds) + " seconds and must be restarted";
        task->replaceSession(nullptr);
        throw Error(AGENTD_ETIMEDOUT, task->broken + partial(r));
      }
      case RunOutcome::kCancelled:
        task->broken =
            "bash was killed when an earlier command was cancelled and must be restarted";
        task->replaceSession(nullptr);
        throw Error(AGENTD_ECANCELED,
                    "cancelled: the command and its bash session were killed" + partial(r));
      case RunOutcome::kExited:
        task->broken = "bash has exited with returncode " + std::to_string(r.exit_code) +
                       ". tool must be restarted.";
        task->replaceSession(nullptr);
        throw Error(AGENTD_ERR, task->broken + partial(r));
      case RunOutcome::kKilled:
        task->replaceSession(nullptr);
        throw Error(AGENTD_ECANCELED, "the task ended; its bash session was killed");
    }
  }

  void reconfigure(std::string_view config_json) override {
    auto next = std::make_shared<const Config>(parseConfig(config_json));
    std::lock_guard<std::mutex> lock(mu_);
    config_ = std::move(next);
  }

  // Kills the task's session at once, even while one of its commands runs.
  void endTask(std::string_view task_id) override {
    std::shared_ptr<Task> task;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = tasks_.find(std::string(task_id));
      if (it == tasks_.end()) return;
      task = std::move(it->second);
      tasks_.erase(it);
    }
    {
      std::lock_guard<std::mutex> lock(task->session_mu);
      task->ended = true;
      if (task->session) task->session->terminate();
    }
    // When no call holds the task, dropping it here reaps bash; otherwise that call does.
  }

 private:
  static std::string partial(const RunResult& r) {
    if (r.output.empty()) return "";
    return "\nOutput so far:\n" + outputOf(r);
  }

  std::unique_ptr<BashSession> startSession(const agentd::sdk::Call& call, const Config& config) {
    std::string dir(call.context("working_dir"));
    if (dir.empty()) dir = config.working_dir;
    std::string error;
    auto session = BashSession::start(dir, scrubbedEnvironment(config), &error);
    if (!session) throw Error(AGENTD_ERR, "Error starting bash session: " + error);
    host_.debug("bash session started: pid " + std::to_string(session->pid()) + ", task '" +
                std::string(call.context("task_id")) + "'");
    return session;
  }

  std::shared_ptr<const Config> currentConfig() {
    std::lock_guard<std::mutex> lock(mu_);
    return config_;
  }

  // Calls without a task id share the session under the empty key.
  std::shared_ptr<Task> taskFor(std::string_view task_id) {
    std::lock_guard<std::mutex> lock(mu_);
    std::shared_ptr<Task>& t = tasks_[std::string(task_id)];
    if (!t) t = std::make_shared<Task>();
    return t;
  }

  agentd::sdk::Host host_;
  std::mutex mu_;  // guards config_ and tasks_ (the map, not the tasks)
  std::shared_ptr<const Config> config_;
  std::unordered_map<std::string, std::shared_ptr<Task>> tasks_;
};

}  // namespace

AGENTD_PLUGIN(Bash, AGENTD_KIND_TOOL, "bash", "0.1.0",
              "Provides bash, a persistent shell session per task with timeout, output clipping "
              "and secret scrubbing.",
              kConfigSchema)
