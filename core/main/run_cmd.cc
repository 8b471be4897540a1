// `agentd run`, `agentd interactive` and `agentd tools`: one process, one task at a time, with
// live progress on the terminal.
#include <fcntl.h>
#include <unistd.h>

#include <utility>  // before Asio (Boost 1.74); its own block keeps it first

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include "agent/llm_factory.h"
#include "agent/task_manager.h"
#include "agent/trajectory.h"
#include "common/json.h"
#include "config/config.h"
#include "main/commands.h"
#include "observability/log.h"
#include "plugin/host.h"
#include "plugin/runner.h"
#include "plugin/specs.h"

namespace agentd {

namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

std::string findConfig(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* env = std::getenv("AGENTD_CONFIG"); env != nullptr && *env) return env;
  for (const char* candidate : {"agentd.toml", "config/agentd.toml"}) {
    if (fs::exists(candidate)) return candidate;
  }
  return "";
}

// trajectories/trajectory_YYYYmmdd_HHMMSS.json, as trae-agent names it; when a task of the same
// second (in this process or another) has that name, the first free one of ..._2.json,
// ..._3.json, ... A name is taken by creating its event log exclusively (the recorder appends to
// it), so no two tasks ever share a record, and a task that dies leaves its event log, not an
// empty trajectory. Returns "" (the task runs without a record) and says why on stderr when no
// name can be taken.
std::string defaultTrajectoryPath() {
  std::time_t t = std::time(nullptr);
  tm local{};
  localtime_r(&t, &local);
  char buf[64];
  std::strftime(buf, sizeof buf, "trajectories/trajectory_%Y%m%d_%H%M%S", &local);
  std::error_code ec;
  fs::create_directories("trajectories", ec);
  std::string why = "the names trajectory_..._2 to _1000 of this second are taken";
  for (int n = 1; n <= 1000; ++n) {
    std::string path = std::string(buf) + (n == 1 ? "" : "_" + std::to_string(n)) + ".json";
    if (fs::exists(path, ec)) continue;  // the record of a task whose event log was removed
    std::string log = agent::eventLogPathFor(path);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::close(fd);
      return path;
    }
    if (errno != EEXIST) {
      why = "cannot create " + log + ": " + std::strerror(errno);
      break;
    }
  }
  std::fprintf(stderr, "warning: this task has no trajectory: %s\n", why.c_str());
  return "";
}

// Prints a task's events as progress lines; colour only on a terminal.
class Progress {
 public:
  explicit Progress(bool color) : color_(color) {}

  void onEvent(const agent::Event& e) {
    print(e);
    // A released batch (Task::releaseEvents) goes out at its end: in one write when stdout is a
    // pipe or a file (a terminal writes each line). Nothing buffered, nothing written.
    if (!e.more) std::fflush(stdout);
  }

 private:
  void print(const agent::Event& e) {
    switch (e.type) {  // only these print; the others are not even parsed
      case agent::EventType::kTaskStart:
      case agent::EventType::kModelResponse:
      case agent::EventType::kToolResult:
      case agent::EventType::kComplete:
      case agent::EventType::kError:
        break;
      default:
        return;
    }
    json::LocalDocument doc;
    if (!doc.parse(e.data).isOk()) return;
    const rapidjson::Value& d = *doc;
    std::lock_guard<std::mutex> lock(mu_);
    switch (e.type) {
      case agent::EventType::kTaskStart:
        std::printf("%s agent %s, model %s, working dir %s\n", paint("agentd", kBold).c_str(),
                    str(d, "agent").c_str(), str(d, "model").c_str(),
                    str(d, "working_dir").c_str());
        break;
      case agent::EventType::kModelResponse: {
        const auto& usage = d["usage"];
        std::string calls;
        for (const auto& c : d["tool_calls"].GetArray()) {
          calls += (calls.empty() ? "" : ", ") + std::string(c["name"].GetString());
        }
        std::printf("%s  model %.0f ms  %lld in / %lld out tokens%s\n",
                    paint("step " + std::to_string(e.step), kBold).c_str(),
                    d["latency_ms"].GetDouble(),
                    static_cast<long long>(usage["input_tokens"].GetInt64()),
                    static_cast<long long>(usage["output_tokens"].GetInt64()),
                    calls.empty() ? "" : ("  -> " + calls).c_str());
        std::string content = str(d, "content");
        if (!content.empty()) std::printf("  %s\n", clip(content, 400).c_str());
        break;
      }
      case agent::EventType::kToolResult: {
        bool ok = d["success"].GetBool();
        std::string detail = ok ? str(d, "result") : str(d, "error");
        std::printf("  %s %s  %.0f ms  %s\n",
                    ok ? paint("ok  ", kGreen).c_str() : paint("fail", kRed).c_str(),
                    str(d, "name").c_str(), d["duration_ms"].GetDouble(),
                    clip(detail, 200).c_str());
        break;
      }
      case agent::EventType::kComplete:
        std::printf("%s in %d steps (%.2f s)\n%s\n", paint("completed", kGreen).c_str(),
                    d["steps"].GetInt(), d["execution_time"].GetDouble(),
                    str(d, "final_result").c_str());
        break;
      case agent::EventType::kError:
        std::printf("%s: %s\n", paint(str(d, "state"), kRed).c_str(), str(d, "error").c_str());
        break;
      default:
        break;
    }
  }

  static constexpr const char* kBold = "1";
  static constexpr const char* kGreen = "32";
  static constexpr const char* kRed = "31";

  std::string paint(const std::string& s, const char* code) const {
    return color_ ? "\033[" + std::string(code) + "m" + s + "\033[0m" : s;
  }
  static std::string str(const rapidjson::Value& d, const char* key) {
    auto it = d.FindMember(key);
    return it != d.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
  }
  static std::string clip(std::string s, size_t n) {
    for (char& c : s) {
      if (c == '\n') c = ' ';
    }
    return s.size() > n ? s.substr(0, n) + "..." : s;
  }

  bool color_;
  std::mutex mu_;
};

// Everything one CLI task needs, loaded once.
struct Session {
  // Runs the tasks and drives the model client (declared first: it outlives the client).
  asio::io_context io{1};  // one thread runs it: posts from that thread skip the reactor wake-up
  std::shared_ptr<const config::Config> config;
  std::string state_dir;
  std::unique_ptr<plugin::PluginHost> host;
  std::shared_ptr<const Snapshot> snapshot;
  std::string model;  // chosen on the command line, if any
  std::string last_task_state = "none";
};

int openSession(const std::string& config_path, const RunOptions& o, Session* s) {
  std::string path = findConfig(config_path);
  if (path.empty()) {
    std::fprintf(stderr, "no configuration: give --config FILE (or set AGENTD_CONFIG)\n");
    return kExitUsage;
  }
  std::vector<config::ConfigError> errors;
  auto cfg = config::load(path, {}, &errors);
  if (!cfg.ok()) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.toString().c_str());
    return kExitUsage;
  }
  s->config = *cfg;
  s->state_dir = (fs::temp_directory_path() / ("agentd-run-" + std::to_string(getpid()))).string();
  s->host = std::make_unique<plugin::PluginHost>(plugin::PluginHost::Options{
      s->state_dir, std::chrono::milliseconds(s->config->plugins.drain_timeout_ms)});
  std::vector<plugin::LoadError> load_errors;
  (void)s->host->apply(plugin::specsFromConfig(*s->config), &load_errors, /*keep_going=*/true);
  for (const auto& e : load_errors) {
    std::fprintf(stderr, "warning: plugin %s not loaded [%s]: %s\n", e.path.c_str(),
                 e.reason.c_str(), e.message.c_str());
  }
  agent::AdHocModel adhoc;
  if (!o.model.empty() && s->config->models.count(o.model)) {
    s->model = o.model;
  } else if (!o.provider.empty() || !o.model.empty()) {
    std::string provider = o.provider;
    if (provider.empty()) {
      std::fprintf(stderr, "--model %s is not a [models] name; give --provider too\n",
                   o.model.c_str());
      return kExitUsage;
    }
    if (o.model.empty()) {
      std::fprintf(stderr, "--provider needs --model (the provider's model id)\n");
      return kExitUsage;
    }
    adhoc = {"cli", provider, o.model};
    s->model = "cli";
  }
  auto llm = agent::makeLlmClient(*s->config, adhoc, &s->io);
  if (!llm.ok()) {
    std::fprintf(stderr, "%s\n", llm.status().message().c_str());
    return kExitUsage;
  }
  s->snapshot = std::make_shared<const Snapshot>(Snapshot{s->config, s->host->current(), *llm, 1});
  return kExitOk;
}

void closeSession(Session* s) {
  s->snapshot.reset();
  s->host.reset();
  std::error_code ec;
  fs::remove_all(s->state_dir, ec);
}

agent::TaskSpec specFrom(const RunOptions& o, const Session& s, std::string task) {
  agent::TaskSpec spec;
  spec.task = std::move(task);
  spec.agent = o.agent;
  spec.model = s.model;
  spec.max_steps = o.max_steps;
  spec.working_dir = o.working_dir;
  spec.must_patch = o.must_patch;
  // Relative paths on the command line mean the current directory.
  std::string trajectory = o.trajectory_file.empty() ? defaultTrajectoryPath() : o.trajectory_file;
  if (!trajectory.empty()) spec.trajectory_file = fs::absolute(trajectory).string();
  if (!o.patch_path.empty()) spec.patch_path = fs::absolute(o.patch_path).string();
  spec.stream = false;  // the progress lines show whole answers, not deltas
  return spec;
}

// Runs one task to its end, printing progress; returns its final state.
agent::TaskState runOne(Session& s, agent::TaskSpec spec, Progress& progress) {
  asio::io_context& io = s.io;
  io.restart();
  auto work = asio::make_work_guard(io);
  plugin::ToolRunner tools(*s.host, {static_cast<size_t>(s.config->plugins.workers), 1024});
  agent::TaskManager tasks(io, {&tools, s.host.get()}, {1, 1, 16});
  std::shared_ptr<agent::Task> task;
  agent::TaskState final_state = agent::TaskState::kFailed;
  tasks.addFinishListener([&](const agent::Task& t) {
    final_state = t.state();
    work.reset();
    io.stop();
  });
  auto submitted = tasks.submit(std::move(spec), s.snapshot);
  if (!submitted.ok()) {
    std::fprintf(stderr, "%s\n", submitted.status().message().c_str());
    return agent::TaskState::kFailed;
  }
  task = *submitted;
  uint64_t token = task->subscribe(0, [&](const agent::Event& e) { progress.onEvent(e); });
  io.run();
  // Finish what the task left queued while the task manager still exists; the io_context
  // outlives this task (it drives the model client for the whole session).
  io.restart();
  io.poll();
  task->unsubscribe(token);
  if (!task->spec().trajectory_file.empty()) {
    std::printf("trajectory: %s\n", task->spec().trajectory_file.c_str());
  }
  return final_state;
}

}  // namespace

int runRun(const RunOptions& o) {
  if (std::getenv("LOG_LEVEL") == nullptr) log::setLevel(log::Level::kWarn);
  std::string task = o.task;
  if (!o.file.empty()) {
    std::ifstream in(o.file);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", o.file.c_str());
      return kExitUsage;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    task = ss.str();
  }
  if (task.empty()) {
    std::fprintf(stderr, "give the task as an argument or with --file\n");
    return kExitUsage;
  }
  if (!o.working_dir.empty() && !fs::path(o.working_dir).is_absolute()) {
    std::fprintf(stderr, "--working-dir must be an absolute path\n");
    return kExitUsage;
  }
  Session s;
  if (int rc = openSession(o.config, o, &s); rc != kExitOk) return rc;
  Progress progress(isatty(STDOUT_FILENO) != 0);
  agent::TaskState state = runOne(s, specFrom(o, s, task), progress);
  closeSession(&s);
  return state == agent::TaskState::kCompleted ? kExitOk : kExitRuntime;
}

int runInteractive(const RunOptions& o) {
  if (std::getenv("LOG_LEVEL") == nullptr) log::setLevel(log::Level::kWarn);
  Session s;
  if (int rc = openSession(o.config, o, &s); rc != kExitOk) return rc;
  bool tty = isatty(STDIN_FILENO) != 0;
  Progress progress(isatty(STDOUT_FILENO) != 0);
  std::printf("agentd interactive: type a task, or help, status, clear, exit\n");
  for (;;) {
    if (tty) std::printf("agentd> ");
    std::fflush(stdout);
    std::string line;
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    if (line == "exit" || line == "quit") break;
    if (line == "help") {
      std::printf(
          "commands:\n  help    this text\n  status  configuration, agent, model, last task\n"
          "  clear   clear the screen\n  exit    leave (also quit, end of input)\n"
          "anything else runs as a task\n");
      continue;
    }
    if (line == "clear") {
      std::printf("\033[2J\033[H");
      continue;
    }
    if (line == "status") {
      std::string agent = agent::effectiveAgent(*s.config, o.agent);
      std::string model = s.model;
      if (model.empty() && s.config->agents.count(agent)) model = s.config->agents.at(agent).model;
      std::printf("config: %s\nagent: %s\nmodel: %s\ntools: %zu loaded\nlast task: %s\n",
                  s.config->path.c_str(), agent.c_str(), model.c_str(),
                  s.snapshot->plugins->tools().size(), s.last_task_state.c_str());
      continue;
    }
    RunOptions per = o;
    per.trajectory_file = o.trajectory_file;
    agent::TaskState state = runOne(s, specFrom(per, s, line), progress);
    s.last_task_state = agent::taskStateName(state);
  }
  closeSession(&s);
  return kExitOk;
}

int runTools(const RunOptions& o) {
  if (std::getenv("LOG_LEVEL") == nullptr) log::setLevel(log::Level::kError);
  Session s;
  if (int rc = openSession(o.config, o, &s); rc != kExitOk) return rc;
  for (const auto& t : s.snapshot->plugins->tools()) {
    std::printf("%s (plugin %s)\n  %s\n  schema: %s\n\n", t.name.c_str(), t.plugin.c_str(),
                t.description.c_str(), t.input_schema.c_str());
  }
  closeSession(&s);
  return kExitOk;
}

}  // namespace agentd
