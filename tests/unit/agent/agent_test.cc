// The agent loop end to end with real plugins and real model providers: the scripted provider
// and the fake model server over HTTP (OpenAI and Anthropic wire formats, streamed).
#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <utility>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/llm_factory.h"
#include "agent/task_manager.h"
#include "common/json.h"
#include "plugin/specs.h"
#include "support/fake_model_server.h"
#include "support/subprocess.h"
#include "support/toml.h"
#include "support/wait.h"

namespace agentd::agent {
namespace {

namespace fs = std::filesystem;
using agentd::testing::freshDir;
using agentd::testing::pluginToml;
using agentd::testing::readFile;
using agentd::testing::waitUntil;
using agentd::testing::writeFile;
using namespace std::chrono_literals;

const std::string kFixtures = AGENTD_FIXTURE_DIR;
const std::string kPlugins = AGENTD_PLUGIN_DIR;

// A whole runtime for one test: config file, plugins, model client, task manager.
class Runtime {
 public:
  Runtime(const std::string& dir, const std::string& toml) : dir_(dir) {
    writeFile(dir + "/agentd.toml", toml);
    auto cfg = config::load(dir + "/agentd.toml");
    EXPECT_TRUE(cfg.ok()) << cfg.status().message();
    cfg_ = *cfg;
    host_ =
        std::make_unique<plugin::PluginHost>(plugin::PluginHost::Options{dir + "/state", 5000ms});
    std::vector<plugin::LoadError> errors;
    EXPECT_TRUE(host_->apply(plugin::specsFromConfig(*cfg_), &errors).isOk())
        << (errors.empty() ? "" : errors[0].message);
    auto llm = makeLlmClient(*cfg_);
    EXPECT_TRUE(llm.ok()) << llm.status().message();
    snap_ = std::make_shared<const Snapshot>(Snapshot{cfg_, host_->current(), *llm, 1});
    runner_ = std::make_unique<plugin::ToolRunner>(*host_, plugin::ToolRunner::Options{4, 64});
    tasks_ = std::make_unique<TaskManager>(io_, RunEnv{runner_.get(), host_.get()},
                                           TaskManager::Limits{8, 8, 100});
    thread_ = std::thread([this] {
      auto work = boost::asio::make_work_guard(io_);
      io_.run_for(120s);
    });
  }
  ~Runtime() {
    io_.stop();
    thread_.join();
    tasks_.reset();
    runner_.reset();
    snap_.reset();
    host_.reset();
  }

  std::shared_ptr<Task> submit(TaskSpec spec) {
    auto t = tasks_->submit(std::move(spec), snap_);
    EXPECT_TRUE(t.ok()) << t.status().message();
    return t.ok() ? *t : nullptr;
  }
  static bool waitFinal(const std::shared_ptr<Task>& t, std::chrono::milliseconds timeout = 30s) {
    return waitUntil([&] { return isFinal(t->state()); }, timeout, 2ms);
  }
  TaskManager& tasks() { return *tasks_; }

 private:
  std::string dir_;
  boost::asio::io_context io_;
  std::thread thread_;
  std::shared_ptr<const config::Config> cfg_;
  std::unique_ptr<plugin::PluginHost> host_;
  std::shared_ptr<const Snapshot> snap_;
  std::unique_ptr<plugin::ToolRunner> runner_;
  std::unique_ptr<TaskManager> tasks_;
};

std::string scriptedConfig(const std::string& dir, const std::string& turns,
                           const std::string& tools, const std::string& extra = "") {
  writeFile(dir + "/turns.jsonl", turns);
  return pluginToml("good", kFixtures + "/good_cpp.so") +
         pluginToml("sleeper", kFixtures + "/sleeper.so") +
         pluginToml("task_done", kPlugins + "/task_done.so") +
         "[model_providers.script]\ntype = \"scripted\"\nscript = \"turns.jsonl\"\n"
         "[models.m]\nprovider = \"script\"\n" +
         extra + "[agents.default]\nmodel = \"m\"\nmax_steps = 5\ntools = " + tools + "\n";
}

std::vector<std::string> eventTypes(const Task& t) {
  std::vector<std::string> out;
  for (const auto& e : t.eventsAfter(0)) {
    if (e.type != EventType::kModelDelta) out.push_back(eventName(e.type));
  }
  return out;
}

TEST(AgentLoop, MultiStepRunWithParallelToolCallsCompletes) {
  std::string dir = freshDir("agent");
  Runtime rt(
      dir,
      scriptedConfig(
          dir,
          R"({"content":"Adding and echoing.","tool_calls":[{"id":"c1","name":"add","arguments":{"a":2,"b":3}},{"id":"c2","name":"echo","arguments":{"text":"hi"}}],"usage":{"input_tokens":10,"output_tokens":5}})"
          "\n"
          R"({"content":"All verified.","tool_calls":[{"id":"c3","name":"task_done","arguments":{}}]})"
          "\n",
          R"(["add", "echo", "task_done"])"));
  TaskSpec spec;
  spec.task = "add 2 and 3";
  spec.working_dir = dir;
  spec.trajectory_file = dir + "/traj/run.json";
  auto t = rt.submit(spec);
  ASSERT_TRUE(Runtime::waitFinal(t));
  EXPECT_EQ(t->state(), TaskState::kCompleted) << t->error();
  EXPECT_EQ(t->finalResult(), "All verified.");
  EXPECT_EQ(eventTypes(*t),
            (std::vector<std::string>{"task_start", "model_request", "model_response", "tool_call",
                                      "tool_call", "tool_result", "tool_result", "step_end",
                                      "model_request", "model_response", "tool_call", "tool_result",
                                      "step_end", "complete", "end"}));
  // Results go back to the model in call order, JSON output verbatim.
  std::string messages = t->messagesJson();
  EXPECT_NE(messages.find(R"("content":"{\"sum\":5}","tool_call_id":"c1")"), std::string::npos)
      << messages;
  EXPECT_NE(messages.find(R"("content":"hi","tool_call_id":"c2")"), std::string::npos);

  // The trajectory, field by field against trae-agent's shape.
  auto traj = json::parse(readFile(spec.trajectory_file));
  ASSERT_TRUE(traj.ok()) << traj.status().message();
  const auto& j = *traj;
  for (const char* k :
       {"task", "start_time", "end_time", "provider", "model", "max_steps", "llm_interactions",
        "agent_steps", "success", "final_result", "execution_time"}) {
    EXPECT_TRUE(j.HasMember(k)) << k;
  }
  EXPECT_STREQ(j["task"].GetString(), "add 2 and 3");
  EXPECT_STREQ(j["provider"].GetString(), "script");
  EXPECT_STREQ(j["model"].GetString(), "m");
  EXPECT_EQ(j["max_steps"].GetInt(), 5);
  EXPECT_TRUE(j["success"].GetBool());
  EXPECT_STREQ(j["final_result"].GetString(), "All verified.");
  EXPECT_GT(j["execution_time"].GetDouble(), 0);
  ASSERT_EQ(j["llm_interactions"].Size(), 2u);
  const auto& i0 = j["llm_interactions"][0];
  for (const char* k :
       {"timestamp", "provider", "model", "input_messages", "response", "tools_available"}) {
    EXPECT_TRUE(i0.HasMember(k)) << k;
  }
  EXPECT_STREQ(i0["input_messages"][0]["role"].GetString(), "system");
  EXPECT_STREQ(i0["input_messages"][1]["role"].GetString(), "user");
  const auto& resp = i0["response"];
  EXPECT_STREQ(resp["content"].GetString(), "Adding and echoing.");
  EXPECT_STREQ(resp["finish_reason"].GetString(), "tool_calls");
  EXPECT_EQ(resp["usage"]["input_tokens"].GetInt(), 10);
  EXPECT_EQ(resp["usage"]["output_tokens"].GetInt(), 5);
  EXPECT_TRUE(resp["usage"]["cache_creation_input_tokens"].IsNull());
  EXPECT_TRUE(resp["usage"]["reasoning_tokens"].IsNull());
  ASSERT_EQ(resp["tool_calls"].Size(), 2u);
  EXPECT_STREQ(resp["tool_calls"][0]["call_id"].GetString(), "c1");
  EXPECT_STREQ(resp["tool_calls"][0]["name"].GetString(), "add");
  EXPECT_EQ(resp["tool_calls"][0]["arguments"]["a"].GetInt(), 2);
  EXPECT_TRUE(resp["tool_calls"][0]["id"].IsNull());
  EXPECT_EQ(i0["tools_available"].Size(), 3u);
  ASSERT_EQ(j["agent_steps"].Size(), 2u);
  const auto& s0 = j["agent_steps"][0];
  EXPECT_EQ(s0["step_number"].GetInt(), 1);
  EXPECT_STREQ(s0["state"].GetString(), "calling_tool");
  EXPECT_TRUE(s0["llm_messages"].IsArray());
  EXPECT_FALSE(s0["llm_response"]["usage"].HasMember("reasoning_tokens"));
  ASSERT_EQ(s0["tool_results"].Size(), 2u);
  EXPECT_STREQ(s0["tool_results"][0]["call_id"].GetString(), "c1");
  EXPECT_TRUE(s0["tool_results"][0]["success"].GetBool());
  EXPECT_STREQ(s0["tool_results"][0]["result"].GetString(), "{\"sum\":5}");
  EXPECT_TRUE(s0["tool_results"][0]["error"].IsNull());
  EXPECT_TRUE(s0["reflection"].IsNull());
  EXPECT_TRUE(s0["error"].IsNull());
  EXPECT_STREQ(j["agent_steps"][1]["state"].GetString(), "completed");

  // The event log has every event, in order, one JSON object per line.
  std::ifstream log(dir + "/traj/run.events.jsonl");
  uint64_t seq = 0;
  std::vector<std::string> logged;
  for (std::string line; std::getline(log, line);) {
    auto e = json::parse(line);
    ASSERT_TRUE(e.ok()) << line;
    EXPECT_EQ((*e)["seq"].GetUint64(), ++seq);
    logged.push_back((*e)["type"].GetString());
  }
  EXPECT_EQ(logged.front(), "task_start");
  EXPECT_EQ(logged.back(), "end");
  EXPECT_EQ(seq, t->eventsAfter(0).size());
}

TEST(AgentLoop, MalformedArgumentsAndToolErrorsGoBackToTheModel) {
  std::string dir = freshDir("agent");
  Runtime rt(
      dir,
      scriptedConfig(
          dir,
          R"({"tool_calls":[{"id":"a","name":"echo","arguments":"{not json"},{"id":"b","name":"fail","arguments":{}},{"id":"c","name":"teleport","arguments":{}}]})"
          "\n"
          R"({"content":"done","tool_calls":[{"id":"d","name":"task_done"}]})"
          "\n",
          R"(["echo", "fail", "task_done"])"));
  TaskSpec spec;
  spec.task = "try things";
  auto t = rt.submit(spec);
  ASSERT_TRUE(Runtime::waitFinal(t));
  EXPECT_EQ(t->state(), TaskState::kCompleted) << t->error();
  std::vector<std::string> errors;
  for (const auto& e : t->eventsAfter(0)) {
    if (e.type != EventType::kToolResult) continue;
    auto d = json::parse(e.data);
    if (!(*d)["success"].GetBool()) errors.push_back((*d)["error"].GetString());
  }
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_NE(errors[0].find("Invalid tool arguments"), std::string::npos) << errors[0];
  EXPECT_EQ(errors[1], "asked to fail");
  EXPECT_NE(errors[2].find("not available"), std::string::npos) << errors[2];
  EXPECT_NE(t->messagesJson().find(R"("is_error":true)"), std::string::npos);
}

TEST(AgentLoop, MaxStepsEndsTheTaskAsFailed) {
  std::string dir = freshDir("agent");
  std::string turn = R"({"tool_calls":[{"id":"x","name":"noop","arguments":{}}]})";
  Runtime rt(dir, scriptedConfig(dir, turn + "\n" + turn + "\n" + turn + "\n", R"(["noop"])"));
  TaskSpec spec;
  spec.task = "loop";
  spec.max_steps = 2;
  auto t = rt.submit(spec);
  ASSERT_TRUE(Runtime::waitFinal(t));
  EXPECT_EQ(t->state(), TaskState::kFailed);
  EXPECT_NE(t->error().find("max_steps (2)"), std::string::npos) << t->error();
  EXPECT_EQ(eventTypes(*t).back(), "end");
}

TEST(AgentLoop, EventLogHoldsEverythingBeforeTheTaskWaitsForTheModel) {
  std::string dir = freshDir("agent-log-wait");
  Runtime rt(
      dir,
      scriptedConfig(
          dir,
          R"({"content":"echoing","tool_calls":[{"id":"c1","name":"echo","arguments":{"text":"x"}}]})"
          "\n"
          R"({"content":"slow answer","delay_ms":20000})"
          "\n",
          R"(["echo"])"));
  TaskSpec spec;
  spec.task = "wait";
  spec.working_dir = dir;
  spec.trajectory_file = dir + "/t.json";
  auto t = rt.submit(spec);
  ASSERT_NE(t, nullptr);
  // While the second model call waits, the log already holds step 1 and step 2's request.
  auto types = [&] {
    std::vector<std::string> out;
    std::ifstream log(dir + "/t.events.jsonl");
    for (std::string line; std::getline(log, line);) {
      auto doc = json::parse(line);
      if (doc.ok() && doc->IsObject() && doc->HasMember("type") &&
          std::string((*doc)["type"].GetString()) != "model_delta") {
        out.push_back((*doc)["type"].GetString());
      }
    }
    return out;
  };
  const std::vector<std::string> want = {"task_start",   "model_request", "model_response",
                                         "tool_call",    "tool_result",   "step_end",
                                         "model_request"};
  waitUntil([&] { return types() == want; }, 10s);
  EXPECT_EQ(types(), want);
  EXPECT_FALSE(isFinal(t->state()));
  rt.tasks().stop(t->id());
  ASSERT_TRUE(Runtime::waitFinal(t));
  EXPECT_EQ(types().back(), "end");
}

TEST(TaskEvents, HeldEventsReachSubscribersInOrderOnRelease) {
  Task task("t-held", TaskSpec{}, nullptr);
  std::vector<uint64_t> first, second;
  std::vector<bool> more;
  std::vector<double> times;
  task.subscribe(0, [&](const Event& e) {
    first.push_back(e.seq);
    more.push_back(e.more);
    times.push_back(e.time);
  });
  task.emit(EventType::kTaskStart, 0, "{}");
  ASSERT_EQ(first, (std::vector<uint64_t>{1}));

  task.holdEvents();
  Event held = task.emit(EventType::kModelResponse, 1, "{}");
  task.emit(EventType::kToolCall, 1, "{}");
  EXPECT_EQ(first, (std::vector<uint64_t>{1})) << "held events are not handed over yet";
  EXPECT_EQ(task.eventsAfter(0).size(), 3u) << "but they are recorded, numbered and timed";
  // A subscriber joining now with replay gets what was handed over at once, the rest live.
  task.subscribe(
      0, [&](const Event& e) { second.push_back(e.seq); }, true);
  EXPECT_EQ(second, (std::vector<uint64_t>{1}));
  // One that already read the held events (eventsAfter) and resumes after them gets no repeat.
  std::vector<uint64_t> third;
  task.subscribe(3, [&](const Event& e) { third.push_back(e.seq); });

  task.releaseEvents();
  EXPECT_EQ(first, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(second, (std::vector<uint64_t>{1, 2, 3}));
  // Within a released batch, every event but the last says that more follow.
  EXPECT_EQ(more, (std::vector<bool>{false, true, false}));
  ASSERT_EQ(times.size(), 3u);
  EXPECT_EQ(times[1], held.time) << "a held event keeps the time it happened at";
  task.releaseEvents();                     // idempotent
  task.emit(EventType::kStepEnd, 1, "{}");  // no longer held
  EXPECT_EQ(first, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(second, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(third, (std::vector<uint64_t>{4}));
}

TEST(TaskEvents, ReplayedEventsComeBeforeAnyLiveOne) {
  Task task("t-replay", TaskSpec{}, nullptr);
  task.emit(EventType::kTaskStart, 0, "{}");
  task.emit(EventType::kModelRequest, 1, "{}");
  std::mutex mu;
  std::vector<uint64_t> got;
  std::thread emitter;
  task.subscribe(
      0,
      [&](const Event& e) {
        {
          std::lock_guard<std::mutex> lock(mu);
          got.push_back(e.seq);
        }
        if (e.seq == 1) {
          // A live event from another thread (a tool's progress) while the replay runs; given
          // time to overtake the replay, it must still come after it.
          emitter = std::thread([&] { task.emit(EventType::kToolProgress, 1, "{}"); });
          std::this_thread::sleep_for(50ms);
        }
      },
      true);
  emitter.join();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(got, (std::vector<uint64_t>{1, 2, 3}));
}

TEST(TaskEvents, ASubscriberThatLeavesDuringABatchGetsNoMoreOfIt) {
  Task task("t-leave", TaskSpec{}, nullptr);
  std::vector<uint64_t> got;
  uint64_t token = 0;
  token = task.subscribe(0, [&](const Event& e) {
    got.push_back(e.seq);
    task.unsubscribe(token);
  });
  task.holdEvents();
  for (int i = 0; i < 3; ++i) task.emit(EventType::kToolCall, 1, "{}");
  task.releaseEvents();
  EXPECT_EQ(got, (std::vector<uint64_t>{1}));
}

TEST(TaskManagerRetention, KeepsOnlyTheNewestFinishedTasks) {
  std::string dir = freshDir("agent-keep");
  Runtime rt(dir, scriptedConfig(dir,
                                 R"({"content":"one"})"
                                 "\n"
                                 R"({"content":"two"})"
                                 "\n"
                                 R"({"content":"three"})"
                                 "\n"
                                 R"({"content":"four"})"
                                 "\n"
                                 R"({"content":"five"})"
                                 "\n",
                                 R"(["echo"])"));
  rt.tasks().setLimits({8, 8, 2});
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    TaskSpec spec;
    spec.task = "answer";
    auto t = rt.submit(spec);
    ASSERT_NE(t, nullptr);
    ASSERT_TRUE(Runtime::waitFinal(t));
    ids.push_back(t->id());
  }
  // done() runs on the io thread right after the task turns final: wait for the pruning.
  waitUntil([&] { return rt.tasks().list().size() <= 2; }, 10s, 2ms);
  auto kept = rt.tasks().list();
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0]->id(), ids[3]);
  EXPECT_EQ(kept[1]->id(), ids[4]);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rt.tasks().get(ids[i]), nullptr) << i;
}

TEST(AgentLoop, AToolThatIgnoresItsTimeoutDoesNotHoldTheTask) {
  std::string dir = freshDir("agent-tool-timeout");
  Runtime rt(
      dir,
      scriptedConfig(
          dir,
          R"({"tool_calls":[{"id":"s","name":"sleep","arguments":{"ms":5000,"honor_cancel":false}}]})"
          "\n"
          R"({"content":"gave up on the sleep"})"
          "\n",
          R"(["sleep"])") +
          "tool_timeout_seconds = 1\n");
  TaskSpec spec;
  spec.task = "sleep";
  auto started = std::chrono::steady_clock::now();
  auto t = rt.submit(spec);
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(Runtime::waitFinal(t));
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(t->state(), TaskState::kCompleted);
  // The 1 s timeout and its grace, not the 5 s the plugin sleeps regardless.
  EXPECT_LT(took, 4s);
  bool timed_out = false;
  for (const auto& e : t->eventsAfter(0)) {
    if (e.type != EventType::kToolResult) continue;
    auto d = json::parse(e.data);
    ASSERT_TRUE(d.ok());
    EXPECT_FALSE((*d)["success"].GetBool());
    timed_out = std::string((*d)["error"].GetString()).find("timed out") != std::string::npos;
  }
  EXPECT_TRUE(timed_out);
}

TEST(AgentLoop, StopDuringAToolCallCancelsTheTask) {
  std::string dir = freshDir("agent");
  Runtime rt(
      dir,
      scriptedConfig(
          dir,
          R"({"tool_calls":[{"id":"s","name":"sleep","arguments":{"ms":20000,"honor_cancel":true}}]})"
          "\n",
          R"(["sleep"])"));
  TaskSpec spec;
  spec.task = "sleep";
  auto t = rt.submit(spec);
  // Wait until the tool runs, then stop.
  bool calling = waitUntil(
      [&] {
        for (const auto& e : t->eventsAfter(0)) {
          if (e.type == EventType::kToolProgress) return true;
        }
        return false;
      },
      10s, 2ms);
  ASSERT_TRUE(calling);
  auto stopped_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(rt.tasks().stop(t->id()).isOk());
  ASSERT_TRUE(Runtime::waitFinal(t, 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, 5s);
  EXPECT_EQ(t->state(), TaskState::kCancelled);
  EXPECT_FALSE(rt.tasks().stop(t->id()).isOk()) << "already ended";
}

// Pids of processes whose command line contains needle.
std::vector<int> processesWith(const std::string& needle) {
  std::vector<int> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (char& c : cmd) {
      if (c == '\0') c = ' ';
    }
    if (cmd.find(needle) != std::string::npos) out.push_back(std::stoi(name));
  }
  return out;
}

TEST(AgentLoop, StopDuringABashSleepLeavesNoProcessBehind) {
  std::string dir = freshDir("agent");
  std::string toml = scriptedConfig(
      dir,
      R"({"tool_calls":[{"id":"b","name":"bash","arguments":{"command":"sleep 31.4159 & sleep 27.1828; echo never"}}]})"
      "\n",
      R"(["bash"])");
  toml = pluginToml("bash", kPlugins + "/bash.so") + toml;
  Runtime rt(dir, toml);
  TaskSpec spec;
  spec.task = "sleep in bash";
  spec.working_dir = dir;
  auto t = rt.submit(spec);
  // Either sleep may exec first: wait for both.
  waitUntil(
      [] {
        return !processesWith("sleep 27.1828").empty() && !processesWith("sleep 31.4159").empty();
      },
      10s);
  ASSERT_FALSE(processesWith("sleep 27.1828").empty()) << "the command never started";
  ASSERT_FALSE(processesWith("sleep 31.4159").empty()) << "the background sleep never started";
  ASSERT_TRUE(rt.tasks().stop(t->id()).isOk());
  ASSERT_TRUE(Runtime::waitFinal(t, 10s));
  EXPECT_EQ(t->state(), TaskState::kCancelled);
  // The foreground sleep and the one it put in the background are both gone.
  waitUntil(
      [] {
        return processesWith("sleep 27.1828").empty() && processesWith("sleep 31.4159").empty();
      },
      5s, 10ms);
  EXPECT_TRUE(processesWith("sleep 27.1828").empty());
  EXPECT_TRUE(processesWith("sleep 31.4159").empty());
}

TEST(AgentLoop, SkillsAreListedInThePromptAndLoadedOnRequest) {
  std::string dir = freshDir("agent");
  std::string toml = scriptedConfig(
      dir,
      R"({"tool_calls":[{"id":"k","name":"load_skill","arguments":{"name":"write-tests"}}]})"
      "\n"
      R"({"content":"ok","tool_calls":[{"id":"d","name":"task_done"}]})"
      "\n",
      "[\"task_done\"]\nskills = [\"write-tests\"]");
  toml = pluginToml("skills_dir", kPlugins + "/skills_dir.so") + "config = { directories = [\"" +
         std::string(AGENTD_SOURCE_DIR) + "/config/skills\"] }\n" + toml;
  Runtime rt(dir, toml);
  TaskSpec spec;
  spec.task = "add tests";
  auto t = rt.submit(spec);
  ASSERT_TRUE(Runtime::waitFinal(t));
  EXPECT_EQ(t->state(), TaskState::kCompleted) << t->error();
  auto messages = json::parse(t->messagesJson());
  ASSERT_TRUE(messages.ok());
  std::string system = (*messages)[0]["content"].GetString();
  EXPECT_NE(system.find("# Skills"), std::string::npos) << system;
  EXPECT_NE(system.find("- write-tests: "), std::string::npos) << system;
  // load_skill was offered without being listed in tools, and returned the instructions.
  std::string loaded = (*messages)[3]["content"].GetString();
  EXPECT_NE(loaded.find("# Writing tests"), std::string::npos) << loaded;
}

TEST(AgentLoop, MustPatchRefusesAnEmptyPatchThenWritesIt) {
  std::string dir = freshDir("agent");
  std::string repo = dir + "/repo";
  fs::create_directories(repo);
  writeFile(repo + "/main.txt", "one\n");
  auto git = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/git", "-C", repo});
    return testing::run(args, 20s);
  };
  ASSERT_EQ(git({"init", "-q"}).code, 0);
  ASSERT_EQ(git({"-c", "user.email=t@example.invalid", "-c", "user.name=t", "add", "."}).code, 0);
  ASSERT_EQ(
      git({"-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-qm", "init"})
          .code,
      0);
  Runtime rt(
      dir,
      scriptedConfig(
          dir,
          R"({"tool_calls":[{"id":"1","name":"task_done"}]})"
          "\n"
          R"({"delay_ms":400,"content":"patched","tool_calls":[{"id":"2","name":"task_done"}]})"
          "\n",
          R"(["task_done"])"));
  TaskSpec spec;
  spec.task = "change main.txt";
  spec.working_dir = repo;
  spec.must_patch = true;
  spec.patch_path = dir + "/out/fix.patch";
  auto t = rt.submit(spec);
  // After the refusal, change the file (as a tool would) while the model "thinks".
  std::string refusal;
  waitUntil(
      [&] {
        for (const auto& e : t->eventsAfter(0)) {
          if (e.type == EventType::kToolResult) refusal = e.data;
        }
        return !refusal.empty();
      },
      10s, 2ms);
  EXPECT_NE(refusal.find("ERROR! Your Patch is empty"), std::string::npos) << refusal;
  writeFile(repo + "/main.txt", "two\n");
  ASSERT_TRUE(Runtime::waitFinal(t));
  EXPECT_EQ(t->state(), TaskState::kCompleted) << t->error();
  std::string patch = readFile(spec.patch_path);
  EXPECT_NE(patch.find("-one"), std::string::npos) << patch;
  EXPECT_NE(patch.find("+two"), std::string::npos) << patch;
}

std::string serverConfig(const testing::FakeModelServer& server, const std::string& type) {
  return pluginToml("good", kFixtures + "/good_cpp.so") + "[model_providers.fake]\ntype = \"" +
         type + "\"\nbase_url = \"" +
         (type == "openai" ? server.openAiBase() : server.anthropicBase()) +
         "\"\napi_key = \"test-key\"\nmax_attempts = 1\n"
         "[models.m]\nprovider = \"fake\"\nmodel = \"fake-model\"\n"
         "[agents.default]\nmodel = \"m\"\nmax_steps = 4\ntools = [\"noop\", \"progress\"]\n";
}

class AgentAgainstServer : public ::testing::TestWithParam<std::string> {};

TEST_P(AgentAgainstServer, ToolCallsOverSeveralTurnsStreamed) {
  testing::FakeModelServer server;
  ASSERT_TRUE(server.ok()) << server.stderrText();
  std::string dir = freshDir("agent-http");
  Runtime rt(dir, serverConfig(server, GetParam()));
  TaskSpec spec;
  spec.task = "look it up";
  spec.trajectory_file = dir + "/t.json";
  auto t = rt.submit(spec);
  ASSERT_TRUE(Runtime::waitFinal(t));
  EXPECT_EQ(t->state(), TaskState::kCompleted) << t->error();
  // Turn 1: the server asks for two parallel calls; turn 2: a final answer quoting their results.
  int calls = 0, deltas = 0;
  for (const auto& e : t->eventsAfter(0)) {
    calls += e.type == EventType::kToolCall;
    deltas += e.type == EventType::kModelDelta;
  }
  EXPECT_EQ(calls, 2);
  EXPECT_GT(deltas, 2) << "the answer was streamed";
  EXPECT_EQ(t->finalResult().rfind("tool results:", 0), 0u) << t->finalResult();
  auto traj = json::parse(readFile(spec.trajectory_file));
  ASSERT_TRUE(traj.ok());
  EXPECT_EQ((*traj)["llm_interactions"].Size(), 2u);
  EXPECT_GT((*traj)["llm_interactions"][0]["response"]["usage"]["input_tokens"].GetInt(), 0);
}

INSTANTIATE_TEST_SUITE_P(Apis, AgentAgainstServer, ::testing::Values("openai", "anthropic"));

TEST(AgentLoop, ConfigurationProblemsFailTheTaskClearly) {
  std::string dir = freshDir("agent");
  Runtime rt(dir, scriptedConfig(dir, "{\"content\":\"x\"}\n", R"(["noop"])"));
  TaskSpec spec;
  spec.task = "x";
  spec.agent = "nobody";
  auto t = rt.submit(spec);
  ASSERT_TRUE(Runtime::waitFinal(t));
  EXPECT_EQ(t->state(), TaskState::kFailed);
  EXPECT_NE(t->error().find("no [agents.nobody]"), std::string::npos) << t->error();
  spec.agent.clear();
  spec.model = "ghost";
  t = rt.submit(spec);
  ASSERT_TRUE(Runtime::waitFinal(t));
  EXPECT_NE(t->error().find("no model named 'ghost'"), std::string::npos) << t->error();
}

}  // namespace
}  // namespace agentd::agent
