#include "agent/loop.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>  // before Asio (Boost 1.74); its own block keeps it first

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <tuple>

#include "agent/trajectory.h"
#include "common/json.h"
#include "observability/log.h"

extern char** environ;

namespace agentd::agent {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using asio::awaitable;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

Result<std::string> gitDiff(const std::string& dir) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Status::ioError("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, out[1], 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::string c = dir.empty() ? "." : dir;
  const char* argv[] = {"git", "-C", c.c_str(), "--no-pager", "diff", nullptr};
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, "git", &fa, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    return Status::unavailable("cannot run git: " + std::string(strerror(rc)));
  }
  std::string text;
  char buf[65536];
  auto deadline = Clock::now() + std::chrono::seconds(60);
  for (;;) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 1000) > 0) {
      ssize_t n = read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      text.append(buf, static_cast<size_t>(n));
    }
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      break;
    }
  }
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::unavailable("git diff failed in " + c + ": " + text);
  }
  return text;
}

namespace {

// --- awaitable adapters over the callback APIs ----------------------------------------------

struct ChatOutcome {
  std::optional<Result<llm::ChatResponse>> result;
};

// on_sent runs on the task's thread after the request has been handed to the client (with
// the pump on that thread, after it has been sent).
template <class Token>
auto asyncChat(llm::LlmClient& client, const std::string& model, llm::ChatRequest req,
               llm::CallOptions opts, std::shared_ptr<Task> task, std::function<void()> on_sent,
               Token&& token) {
  return asio::async_initiate<Token, void(ChatOutcome)>(
      [&client, model, req = std::move(req), opts = std::move(opts), task,
       on_sent = std::move(on_sent)](auto handler) mutable {
        auto ex = asio::get_associated_executor(handler);
        auto h = std::make_shared<std::decay_t<decltype(handler)>>(std::move(handler));
        llm::CallHandle call = client.chatAsync(
            model, std::move(req), std::move(opts), [h, ex](Result<llm::ChatResponse> r) {
              ChatOutcome o;
              o.result.emplace(std::move(r));
              // Completions arrive on the model client's thread; resume on the task's.
              asio::post(ex, [h, o = std::move(o)]() mutable { std::move (*h)(std::move(o)); });
            });
        task->setCancelHook([call]() mutable { call.cancel(); });
        asio::post(ex, std::move(on_sent));
      },
      token);
}

struct ToolJob {
  std::string call_id;
  std::string name;
  std::string arguments;
  bool runs_inline = false;  // AGENTD_TOOL_INLINE: no wait, no timeout timer
};

// What a tool call of this task sees: its ids, its working directory, the task's cancellation and
// a progress reporter that emits tool_progress events.
plugin::CallContext toolContext(const std::shared_ptr<Task>& task, const std::string& agent,
                                const std::string& working_dir, const ToolJob& job, int step) {
  plugin::CallContext ctx;
  ctx.task_id = task->id();
  ctx.agent = agent;
  ctx.working_dir = working_dir;
  ctx.tool_call_id = job.call_id;
  ctx.cancel = std::make_shared<plugin::CancelState>(task->toolCancel());
  ctx.on_progress = [task, step, id = job.call_id, name = job.name](double progress, double total,
                                                                    std::string_view message) {
    char num[64];
    std::snprintf(num, sizeof num, "%.6g,\"total\":%.6g", progress, total);
    task->emit(EventType::kToolProgress, step,
               "{\"call_id\":" + json::quote(id) + ",\"name\":" + json::quote(name) +
                   ",\"progress\":" + num + ",\"message\":" + json::quote(message) + "}");
  };
  return ctx;
}

// How long after its timeout a tool call that has not returned is given up on.
constexpr std::chrono::milliseconds kToolTimeoutGrace{250};

struct ToolsOutcome {
  std::vector<plugin::ToolResult> results;
  std::vector<double> duration_ms;
};

// Runs an inline tool's call on this thread: its result and how long it took, in ms.
std::pair<plugin::ToolResult, double> runOneInline(plugin::ToolRunner& runner, const ToolJob& job,
                                                   const std::shared_ptr<Task>& task,
                                                   const std::string& agent,
                                                   const std::string& working_dir,
                                                   std::chrono::milliseconds timeout, int step) {
  auto start = Clock::now();
  plugin::ToolResult r = runner.runInline(
      job.name, job.arguments, toolContext(task, agent, working_dir, job, step), timeout);
  return {std::move(r), std::chrono::duration<double, std::milli>(Clock::now() - start).count()};
}

// Inline tools (AGENTD_TOOL_INLINE) answer on this thread, so a step whose calls are all inline
// runs them here: no hand-off, no timer, no trip through the executor. Once the task is asked
// to stop, no further call starts.
ToolsOutcome runInlineTools(plugin::ToolRunner& runner, const std::vector<ToolJob>& jobs,
                            const std::shared_ptr<Task>& task, const std::string& agent,
                            const std::string& working_dir, std::chrono::milliseconds timeout,
                            int step) {
  ToolsOutcome out;
  out.results.resize(jobs.size());
  out.duration_ms.resize(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (task->stopRequested()) break;
    std::tie(out.results[i], out.duration_ms[i]) =
        runOneInline(runner, jobs[i], task, agent, working_dir, timeout, step);
  }
  return out;
}

template <class Token>
auto asyncTools(plugin::ToolRunner& runner, std::vector<ToolJob> jobs, std::shared_ptr<Task> task,
                std::string agent, std::string working_dir, std::chrono::milliseconds timeout,
                int step, Token&& token) {
  return asio::async_initiate<Token, void(ToolsOutcome)>(
      [&runner, jobs = std::move(jobs), task, agent, working_dir, timeout,
       step](auto handler) mutable {
        auto ex = asio::get_associated_executor(handler);
        auto h = std::make_shared<std::decay_t<decltype(handler)>>(std::move(handler));
        struct State {
          std::mutex mu;
          ToolsOutcome out;
          std::vector<bool> reported;  // a result (or the timeout) is in for this job
          size_t left;
        };
        auto state = std::make_shared<State>();
        state->out.results.resize(jobs.size());
        state->out.duration_ms.resize(jobs.size());
        state->reported.resize(jobs.size(), false);
        state->left = jobs.size();
        // Records job i's outcome once; the first of the result and the deadline wins.
        auto report = [state, h, ex](size_t i, plugin::ToolResult r, double ms) {
          std::lock_guard<std::mutex> lock(state->mu);
          if (state->reported[i]) return false;
          state->reported[i] = true;
          state->out.results[i] = std::move(r);
          state->out.duration_ms[i] = ms;
          if (--state->left == 0) {
            asio::post(ex, [h, state]() mutable { std::move (*h)(std::move(state->out)); });
          }
          return true;
        };
        if (jobs.empty()) {
          asio::post(ex, [h, state]() mutable { std::move (*h)(std::move(state->out)); });
          return;
        }
        for (size_t i = 0; i < jobs.size(); ++i) {
          // Where the call runs follows the plan above (a later demotion does not move it).
          if (jobs[i].runs_inline) {
            auto [r, ms] = runOneInline(runner, jobs[i], task, agent, working_dir, timeout, step);
            report(i, std::move(r), ms);
            continue;
          }
          auto start = Clock::now();
          auto since = [start] {
            return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
          };
          // A plugin that ignores cancellation must not hold the task: shortly after the
          // timeout (a cooperative plugin reports its own timeout first) the call counts as
          // timed out and its late result is dropped; its worker finishes in the background.
          auto timer = std::make_shared<asio::steady_timer>(ex, timeout + kToolTimeoutGrace);
          timer->async_wait([report, i, since, timeout,
                             name = jobs[i].name](const boost::system::error_code& ec) {
            if (ec) return;
            plugin::ToolResult r;
            r.status = AGENTD_ETIMEDOUT;
            r.error = "tool " + name + " timed out after " + std::to_string(timeout.count()) +
                      " ms and did not stop when cancelled; its result will be discarded";
            report(i, std::move(r), since());
          });
          runner.runPooled(jobs[i].name, jobs[i].arguments,
                           toolContext(task, agent, working_dir, jobs[i], step), timeout,
                           [report, i, since, timer, ex](plugin::ToolResult r) {
                             if (report(i, std::move(r), since())) {
                               // The timer belongs to the task's thread: cancel it there.
                               asio::post(ex, [timer] { timer->cancel(); });
                             }
                           });
        }
      },
      token);
}

// --- the conversation -----------------------------------------------------------------------

struct Plan {
  std::string agent;
  std::string model;
  std::string provider;
  int max_steps = 20;
  std::string working_dir;
  bool parallel_tools = true;
  std::chrono::milliseconds tool_timeout{120000};
  std::vector<llm::ToolDefinition> tools;
  std::vector<std::string> tool_names;
  std::string system_prompt;
};

std::string defaultSystemPrompt() {
  return "You are an expert software engineering agent. Solve the task with the tools you have: "
         "read before you change, make small verified changes, and run what you wrote. When the "
         "task is done and verified, call task_done.";
}

Status plan(const Task& task, Plan* p) {
  const config::Config& cfg = *task.snapshot()->config;
  const TaskSpec& spec = task.spec();
  p->agent = spec.agent;
  if (p->agent.empty()) {
    if (cfg.agents.count("default")) {
      p->agent = "default";
    } else if (cfg.agents.size() == 1) {
      p->agent = cfg.agents.begin()->first;
    } else {
      return Status::invalidArgument("several agents are configured: choose one");
    }
  }
  auto ait = cfg.agents.find(p->agent);
  if (ait == cfg.agents.end()) return Status::notFound("no [agents." + p->agent + "]");
  const config::AgentConfig& agent = ait->second;
  p->model = spec.model.empty() ? agent.model : spec.model;
  if (p->model.empty()) {
    return Status::invalidArgument("agent " + p->agent + " has no model (set agents." + p->agent +
                                   ".model)");
  }
  auto llm = task.snapshot()->llm;
  if (llm == nullptr || !llm->hasModel(p->model)) {
    return Status::notFound("no model named '" + p->model + "' is configured");
  }
  if (auto mit = cfg.models.find(p->model); mit != cfg.models.end()) {
    p->provider = mit->second.provider;
    p->parallel_tools = mit->second.parallel_tool_calls;
  }
  p->max_steps = spec.max_steps > 0 ? spec.max_steps : agent.max_steps;
  p->working_dir = spec.working_dir.empty() ? agent.working_dir : spec.working_dir;
  std::error_code ec;
  if (p->working_dir.empty()) p->working_dir = fs::current_path(ec).string();
  fs::create_directories(p->working_dir, ec);
  std::error_code dir_ec;
  if (p->working_dir.empty() || !fs::is_directory(p->working_dir, dir_ec)) {
    return Status::invalidArgument("working directory " + p->working_dir +
                                   " does not exist and cannot be created" +
                                   (ec ? ": " + ec.message() : ""));
  }
  p->tool_timeout = std::chrono::seconds(agent.tool_timeout_seconds);

  const plugin::PluginSet& set = *task.snapshot()->plugins;
  std::map<std::string, plugin::ToolInfo> offered;
  for (auto& t : set.tools()) offered[t.name] = t;
  std::vector<std::string> wanted = agent.tools;
  std::string skills_index;
  if (!agent.skills.empty()) {
    std::map<std::string, plugin::SkillInfo> skills;
    for (auto& s : set.skills()) skills[s.name] = s;
    for (const auto& name : agent.skills) {
      auto it = skills.find(name);
      if (it == skills.end()) return Status::notFound("no loaded plugin offers skill " + name);
      skills_index += "- " + name + ": " + it->second.description + "\n";
    }
    if (offered.count("load_skill") &&
        std::find(wanted.begin(), wanted.end(), "load_skill") == wanted.end()) {
      wanted.push_back("load_skill");
    }
  }
  // An agent's MCP servers contribute every tool the adapter exposes for them (SERVER__TOOL),
  // as listed now: a tool-list change applies at the next task.
  for (const auto& server : agent.mcp_servers) {
    std::string prefix = server + "__";
    for (const auto& [name, info] : offered) {
      if (name.rfind(prefix, 0) == 0 &&
          std::find(wanted.begin(), wanted.end(), name) == wanted.end()) {
        wanted.push_back(name);
      }
    }
  }
  for (const auto& name : wanted) {
    auto it = offered.find(name);
    if (it == offered.end()) return Status::notFound("no loaded plugin offers tool " + name);
    p->tools.push_back({it->second.name, it->second.description, it->second.input_schema});
    p->tool_names.push_back(name);
  }
  p->system_prompt = agent.system_prompt.empty() ? defaultSystemPrompt() : agent.system_prompt;
  if (!skills_index.empty()) {
    p->system_prompt +=
        "\n\n# Skills\nLoad a skill's instructions with the load_skill tool when it helps:\n" +
        skills_index;
  }
  return Status::ok();
}

// (GCC 12 miscompiles local arrays in coroutines, so formatting lives out here.)
std::string fixed3(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

std::string userMessage(const TaskSpec& spec, const Plan& p) {
  return "[Working directory]:\n" + p.working_dir + "\n\n[Task]:\n" + spec.task;
}

std::string responseJson(const llm::ChatResponse& r, double latency_ms) {
  std::string calls = "[";
  for (size_t i = 0; i < r.tool_calls.size(); ++i) {
    if (i) calls += ",";
    calls += "{\"id\":" + json::quote(r.tool_calls[i].id) +
             ",\"name\":" + json::quote(r.tool_calls[i].name) +
             ",\"arguments\":" + json::quote(r.tool_calls[i].arguments) + "}";
  }
  calls += "]";
  char lat[32];
  std::snprintf(lat, sizeof lat, "%.3f", latency_ms);
  return "{\"content\":" + json::quote(r.content) + ",\"tool_calls\":" + calls +
         ",\"finish_reason\":\"" + llm::finishReasonName(r.finish_reason) +
         "\",\"usage\":{\"input_tokens\":" + std::to_string(r.usage.input_tokens) +
         ",\"output_tokens\":" + std::to_string(r.usage.output_tokens) +
         "},\"model\":" + json::quote(r.model) + ",\"provider\":" + json::quote(r.provider) +
         ",\"cached\":" + (r.cached ? "true" : "false") + ",\"latency_ms\":" + lat + "}";
}

// Checks a tool call before running it; returns the error result to give the model, if any.
std::optional<std::string> rejectCall(const llm::ToolCall& c, const Plan& p,
                                      std::string* normalized_args) {
  if (std::find(p.tool_names.begin(), p.tool_names.end(), c.name) == p.tool_names.end()) {
    return "Tool '" + c.name + "' is not available to this agent.";
  }
  std::string args = c.arguments.empty() ? "{}" : c.arguments;
  if (Status st = json::validateObject(args); !st.isOk()) {
    return "Invalid tool arguments (" + st.message() + ")";
  }
  *normalized_args = std::move(args);
  return std::nullopt;
}

class Run {
 public:
  Run(std::shared_ptr<Task> task, RunEnv env) : task_(std::move(task)), env_(env) {}

  // Runs the task; whatever happens, it ends in a final state with its `end` event.
  awaitable<void> go() {
    std::string failure;
    try {
      co_await body();
    } catch (const std::exception& e) {
      failure = std::string("internal error: ") + e.what();
    } catch (...) {
      failure = "internal error";
    }
    if (!failure.empty() && !finished_) {
      log::error("task failed with an exception", {{"task_id", task_->id()}, {"error", failure}});
      finish(TaskState::kFailed, "", failure);
    }
  }

 private:
  awaitable<void> body() {
    task_->setState(TaskState::kRunning);
    Status st = plan(*task_, &p_);
    const TaskSpec& spec = task_->spec();
    if (!spec.trajectory_file.empty()) {
      rec_ =
          std::make_shared<TrajectoryRecorder>(resolve(spec.trajectory_file), spec.task,
                                               p_.provider, p_.model, p_.max_steps, p_.tool_names);
      Status opened = rec_->open();
      if (!opened.isOk()) {
        log::warn("no event log for task", {{"task_id", task_->id()}, {"error", opened.message()}});
      }
      token_ = task_->subscribe(0, [rec = rec_](const Event& e) { rec->onEvent(e); });
    }
    started_ = Clock::now();
    // From here on, events wait (Task::holdEvents) until the task next waits: beginWait().
    task_->holdEvents();
    task_->emit(EventType::kTaskStart, 0,
                "{\"task\":" + json::quote(spec.task) + ",\"agent\":" + json::quote(p_.agent) +
                    ",\"model\":" + json::quote(p_.model) + ",\"provider\":" +
                    json::quote(p_.provider) + ",\"working_dir\":" + json::quote(p_.working_dir) +
                    ",\"max_steps\":" + std::to_string(p_.max_steps) + "}");
    if (!st.isOk()) {
      finish(TaskState::kFailed, "", st.message());
      co_return;
    }
    messages_.push_back(llm::Message::system(p_.system_prompt));
    messages_.insert(messages_.end(), spec.history.begin(), spec.history.end());
    messages_.push_back(
        llm::Message::user(spec.history.empty() ? userMessage(spec, p_) : spec.task));
    publishMessages();

    for (int step = 1; step <= p_.max_steps; ++step) {
      if (task_->stopRequested()) {
        stopped();
        co_return;
      }
      bool done = co_await this->step(step);
      if (done) co_return;
    }
    finish(TaskState::kFailed, "",
           "the task reached max_steps (" + std::to_string(p_.max_steps) + ") without completing");
  }

  // One model call and the tool calls it asks for. Returns true when the task ended.
  awaitable<bool> step(int step) {
    auto step_start = Clock::now();
    std::string tool_list;
    for (const auto& n : p_.tool_names) tool_list += (tool_list.empty() ? "\"" : ",\"") + n + "\"";
    task_->emit(
        EventType::kModelRequest, step,
        "{\"messages\":" + std::to_string(messages_.size()) + ",\"tools\":[" + tool_list + "]}");
    llm::ChatRequest req;
    req.messages = messages_;
    req.tools = p_.tools;
    llm::CallOptions opts;
    auto task = task_;
    if (task_->spec().stream)
      opts.on_delta = [task, step](const llm::StreamDelta& d) {
        std::string data;
        switch (d.kind) {
          case llm::StreamDelta::Kind::kText:
            data = "{\"text\":" + json::quote(d.text) + "}";
            break;
          case llm::StreamDelta::Kind::kToolCallStart:
            data = "{\"tool_call\":{\"index\":" + std::to_string(d.index) +
                   ",\"id\":" + json::quote(d.id) + ",\"name\":" + json::quote(d.name) + "}}";
            break;
          case llm::StreamDelta::Kind::kToolCallArguments:
            data = "{\"tool_call\":{\"index\":" + std::to_string(d.index) +
                   ",\"arguments\":" + json::quote(d.text) + "}}";
            break;
        }
        task->emit(EventType::kModelDelta, step, std::move(data));
      };
    const size_t sent = messages_.size();
    // Once the request is sent, the task waits. (Not through this: the handler may run late.)
    auto on_sent = [task = task_, rec = rec_] { beginWait(*task, rec.get()); };
    auto t0 = Clock::now();
    ChatOutcome out = co_await asyncChat(*task_->snapshot()->llm, p_.model, std::move(req),
                                         std::move(opts), task_, on_sent, use_awaitable);
    task_->holdEvents();
    task_->setCancelHook(nullptr);
    double latency = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    Result<llm::ChatResponse>& res = *out.result;
    if (!res.ok()) {
      if (task_->stopRequested()) {
        stopped();
        co_return true;
      }
      if (rec_) rec_->recordStep(step, "error", sent, nullptr, {}, res.status().message());
      finish(TaskState::kFailed, "", "model call failed: " + res.status().message());
      co_return true;
    }
    // One copy of the response, read from here on and shared by the trajectory's records.
    auto recorded = std::make_shared<const llm::ChatResponse>(std::move(*res));
    const llm::ChatResponse& r = *recorded;
    task_->emit(EventType::kModelResponse, step, responseJson(r, latency));
    if (rec_) rec_->recordInteraction(sent, recorded);
    messages_.push_back(llm::Message::assistant(r.content, r.tool_calls));

    if (r.tool_calls.empty()) {
      // A final answer ends the task, unless a patch is required and there is none.
      std::string refusal;
      if (task_->spec().must_patch && !patchReady(&refusal)) {
        messages_.push_back(llm::Message::user(refusal));
        publishMessages();
        if (rec_) rec_->recordStep(step, "completed", sent, recorded, {}, "");
        endStep(step, step_start);
        co_return false;
      }
      publishMessages();
      if (rec_) rec_->recordStep(step, "completed", sent, recorded, {}, "");
      endStep(step, step_start);
      finish(TaskState::kCompleted, r.content, "");
      co_return true;
    }

    // Validate, announce and run the calls.
    std::vector<std::optional<std::string>> rejected(r.tool_calls.size());
    std::vector<ToolJob> jobs;
    std::vector<size_t> job_index;
    for (size_t i = 0; i < r.tool_calls.size(); ++i) {
      const llm::ToolCall& c = r.tool_calls[i];
      task_->emit(EventType::kToolCall, step,
                  "{\"call_id\":" + json::quote(c.id) + ",\"name\":" + json::quote(c.name) +
                      ",\"arguments\":" + json::quote(c.arguments) + "}");
      std::string args;
      rejected[i] = rejectCall(c, p_, &args);
      if (!rejected[i]) {
        jobs.push_back({c.id, c.name, args, env_.tools->runsInline(c.name)});
        job_index.push_back(i);
      }
    }
    // A call that may block is a wait: the events so far go out and reach the log first.
    bool waits =
        std::any_of(jobs.begin(), jobs.end(), [](const ToolJob& j) { return !j.runs_inline; });
    if (waits) beginWait(*task_, rec_.get());
    std::vector<plugin::ToolResult> results(r.tool_calls.size());
    std::vector<double> durations(r.tool_calls.size(), 0);
    // Outcomes of jobs [first, first + o.results.size()) go to their calls' places.
    auto place = [&](ToolsOutcome o, size_t first) {
      for (size_t j = 0; j < o.results.size(); ++j) {
        results[job_index[first + j]] = std::move(o.results[j]);
        durations[job_index[first + j]] = o.duration_ms[j];
      }
    };
    if (!waits) {
      place(
          runInlineTools(*env_.tools, jobs, task_, p_.agent, p_.working_dir, p_.tool_timeout, step),
          0);
    } else if (p_.parallel_tools || jobs.size() <= 1) {
      place(co_await asyncTools(*env_.tools, jobs, task_, p_.agent, p_.working_dir, p_.tool_timeout,
                                step, use_awaitable),
            0);
    } else {
      for (size_t j = 0; j < jobs.size(); ++j) {
        if (task_->stopRequested()) break;
        place(co_await asyncTools(*env_.tools, std::vector<ToolJob>(1, jobs[j]), task_, p_.agent,
                                  p_.working_dir, p_.tool_timeout, step, use_awaitable),
              j);
      }
    }
    if (waits) task_->holdEvents();
    if (task_->stopRequested()) {
      stopped();
      co_return true;
    }

    bool completed = false;
    std::vector<ToolOutcome> outcomes;
    for (size_t i = 0; i < r.tool_calls.size(); ++i) {
      const llm::ToolCall& c = r.tool_calls[i];
      ToolOutcome o;
      o.call_id = c.id;
      o.name = c.name;
      if (rejected[i]) {
        o.error = *rejected[i];
      } else if (results[i].ok) {
        o.success = true;
        o.result = results[i].output;
      } else {
        o.error = results[i].error.empty() ? "tool failed" : results[i].error;
      }
      if (o.success && c.name == "task_done") {
        std::string refusal;
        if (task_->spec().must_patch && !patchReady(&refusal)) {
          o.success = false;
          o.error = refusal;
        } else {
          completed = true;
        }
      }
      task_->emit(EventType::kToolResult, step,
                  "{\"call_id\":" + json::quote(o.call_id) + ",\"name\":" + json::quote(o.name) +
                      ",\"success\":" + (o.success ? "true" : "false") +
                      (o.success ? ",\"result\":" + json::quote(o.result)
                                 : ",\"error\":" + json::quote(o.error)) +
                      ",\"duration_ms\":" + fixed3(durations[i]) + "}");
      messages_.push_back(
          llm::Message::toolResult(c.id, o.success ? o.result : o.error, !o.success));
      outcomes.push_back(std::move(o));
    }
    publishMessages();
    if (rec_)
      rec_->recordStep(step, completed ? "completed" : "calling_tool", sent, recorded,
                       std::move(outcomes), "");
    endStep(step, step_start);
    if (completed) {
      finish(TaskState::kCompleted, r.content.empty() ? "Task done." : r.content, "");
      co_return true;
    }
    co_return false;
  }

  // The task is about to wait: the held events go out and reach the log.
  static void beginWait(Task& task, TrajectoryRecorder* rec) {
    task.releaseEvents();
    if (rec) rec->flush();
  }

  // With must_patch: true when `git diff` is not empty (and the patch was written).
  bool patchReady(std::string* refusal) {
    auto diff = gitDiff(p_.working_dir);
    if (!diff.ok()) {
      *refusal = "ERROR! must_patch is set but " + diff.status().message();
      return false;
    }
    if (diff->empty()) {
      *refusal = kEmptyPatchMessage;
      return false;
    }
    const std::string path = resolve(task_->spec().patch_path);
    if (!path.empty()) {
      std::error_code ec;
      fs::path parent = fs::path(path).parent_path();
      if (!parent.empty()) fs::create_directories(parent, ec);
      std::ofstream(path, std::ios::binary | std::ios::trunc) << *diff;
    }
    return true;
  }

  // A relative output path lives in the task's working directory.
  std::string resolve(const std::string& path) const {
    if (path.empty() || path.front() == '/' || p_.working_dir.empty()) return path;
    return (fs::path(p_.working_dir) / path).string();
  }

  void publishMessages() {
    task_->setMessages(std::make_shared<const std::vector<llm::Message>>(messages_));
  }

  void endStep(int step, Clock::time_point start) {
    char dur[32];
    std::snprintf(dur, sizeof dur, "%.3f",
                  std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    task_->emit(EventType::kStepEnd, step, std::string("{\"duration_ms\":") + dur + "}");
    steps_ = step;
  }

  void stopped() {
    finish(task_->interrupted() ? TaskState::kInterrupted : TaskState::kCancelled, "",
           task_->interrupted() ? "interrupted by shutdown" : "stopped by request");
  }

  void finish(TaskState state, const std::string& final_result, const std::string& error) {
    if (finished_) return;
    finished_ = true;
    task_->releaseEvents();
    double exec = std::chrono::duration<double>(Clock::now() - started_).count();
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.6f", exec);
    if (state == TaskState::kCompleted) {
      task_->emit(EventType::kComplete, steps_,
                  "{\"success\":true,\"final_result\":" + json::quote(final_result) +
                      ",\"steps\":" + std::to_string(steps_) + ",\"execution_time\":" + secs + "}");
    } else {
      task_->emit(EventType::kError, steps_,
                  "{\"error\":" + json::quote(error) + ",\"state\":\"" + taskStateName(state) +
                      "\",\"steps\":" + std::to_string(steps_) + "}");
    }
    task_->emit(EventType::kEnd, steps_,
                std::string("{\"state\":\"") + taskStateName(state) + "\"}");
    if (rec_) {
      Status st = rec_->finalize(state == TaskState::kCompleted, final_result, exec, messages_);
      if (!st.isOk()) {
        log::error("cannot write trajectory", {{"task_id", task_->id()}, {"error", st.message()}});
      }
      task_->unsubscribe(token_);
    }
    if (env_.host != nullptr) env_.host->endTask(task_->id());
    task_->finish(state, final_result, error);
    log::info("task finished", {{"task_id", task_->id()},
                                {"agent", p_.agent},
                                {"state", taskStateName(state)},
                                {"steps", steps_},
                                {"seconds", exec}});
  }

  std::shared_ptr<Task> task_;
  RunEnv env_;
  Plan p_;
  std::vector<llm::Message> messages_;
  std::shared_ptr<TrajectoryRecorder> rec_;
  uint64_t token_ = 0;
  Clock::time_point started_;
  int steps_ = 0;
  bool finished_ = false;
};

awaitable<void> runTask(std::shared_ptr<Task> task, RunEnv env) {
  Run run(std::move(task), env);
  co_await run.go();
}

}  // namespace

void startTask(asio::io_context& io, std::shared_ptr<Task> task, RunEnv env,
               std::function<void()> on_done) {
  asio::co_spawn(io, runTask(std::move(task), env),
                 [on_done = std::move(on_done)](std::exception_ptr e) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       log::error("task coroutine failed", {{"error", ex.what()}});
                     } catch (...) {
                       log::error("task coroutine failed");
                     }
                   }
                   if (on_done) on_done();
                 });
}

}  // namespace agentd::agent
