// `agentd run`, `agentd interactive` and `agentd tools` as child processes.
#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "support/subprocess.h"
#include "support/toml.h"

namespace agentd::testing {
namespace {

using namespace std::chrono_literals;

const std::string kAgentd = std::string(AGENTD_BIN_DIR) + "/agentd";
const std::string kFixtures = AGENTD_FIXTURE_DIR;
const std::string kPlugins = AGENTD_PLUGIN_DIR;

std::string config(const std::string& dir, const std::string& turns, int max_steps = 5) {
  writeFile(dir + "/turns.jsonl", turns);
  return pluginToml("good", kFixtures + "/good_cpp.so") +
         pluginToml("task_done", kPlugins + "/task_done.so") +
         "[model_providers.script]\ntype = \"scripted\"\nscript = \"turns.jsonl\"\n"
         "[models.m]\nprovider = \"script\"\n"
         "[agents.default]\nmodel = \"m\"\nmax_steps = " +
         std::to_string(max_steps) + "\ntools = [\"echo\", \"task_done\"]\n";
}

const char* kTwoSteps =
    R"({"content":"Echoing.","tool_calls":[{"id":"1","name":"echo","arguments":{"text":"hello"}}],"usage":{"input_tokens":12,"output_tokens":3}})"
    "\n"
    R"({"content":"Verified.","tool_calls":[{"id":"2","name":"task_done"}]})"
    "\n";

TEST(RunCommand, CompletesWithProgressAndATrajectory) {
  std::string dir = freshDir("run");
  writeFile(dir + "/agentd.toml", config(dir, kTwoSteps));
  RunResult r = run({kAgentd, "run", "say hello", "--config", dir + "/agentd.toml", "--working-dir",
                     dir, "--trajectory-file", dir + "/t.json"},
                    60s);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("step 1  model"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("12 in / 3 out tokens  -> echo"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ok   echo"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("completed in 2 steps"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("\033["), std::string::npos) << "no colour when not a terminal";
  EXPECT_NE(r.output.find("trajectory: " + dir + "/t.json"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir + "/t.json"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/t.events.jsonl"));
}

// The embedded default: offline, no secrets, a scripted demo that really uses the tools.
TEST(RunCommand, EmbeddedDefaultDemoWritesRunsAndChecksAProgram) {
  std::string dir = freshDir("demo");
  Subprocess p({kAgentd, "run", "Write FizzBuzz in shell and check it", "--config",
                std::string(AGENTD_SOURCE_DIR) + "/config/agentd.toml", "--trajectory-file",
                dir + "/t.json"},
               {{"AGENTD_PLUGIN_DIR", kPlugins}, {"AGENTD_WORKSPACE", dir + "/ws"}});
  ASSERT_EQ(p.wait(60s), 0) << p.stderrText();
  EXPECT_NE(readFile(dir + "/ws/fizzbuzz.sh").find("FizzBuzz"), std::string::npos)
      << "written by the edit tool";
  std::string traj = readFile(dir + "/t.json");
  EXPECT_NE(traj.find("\"success\": true"), std::string::npos);
  for (const char* tool :
       {"sequentialthinking", "bash", "str_replace_based_edit_tool", "task_done"}) {
    EXPECT_NE(traj.find(std::string("\"name\": \"") + tool + "\""), std::string::npos) << tool;
  }
  EXPECT_NE(traj.find("verified"), std::string::npos) << "bash checked the output";
}

TEST(RunCommand, TaskFailureExitsOneAndUsageErrorsExitTwo) {
  std::string dir = freshDir("run");
  std::string loop = R"({"tool_calls":[{"id":"x","name":"echo","arguments":{"text":"again"}}]})";
  writeFile(dir + "/agentd.toml", config(dir, loop + "\n" + loop + "\n", /*max_steps=*/2));
  RunResult r = run({kAgentd, "run", "loop", "--config", dir + "/agentd.toml", "--trajectory-file",
                     dir + "/t.json"},
                    60s);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("max_steps (2)"), std::string::npos) << r.output;

  EXPECT_EQ(run({kAgentd, "run", "--config", dir + "/agentd.toml"}, 20s).code, 2) << "no task";
  EXPECT_EQ(
      run({kAgentd, "run", "x", "--config", dir + "/agentd.toml", "--working-dir", "rel"}, 20s)
          .code,
      2);
  writeFile(dir + "/bad.toml", "[agents.a]\nmax_steps = \"many\"\n");
  RunResult bad = run({kAgentd, "run", "x", "--config", dir + "/bad.toml"}, 20s);
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.output.find("bad.toml:2:13: agents.a.max_steps"), std::string::npos) << bad.output;
  EXPECT_EQ(
      run({kAgentd, "run", "x", "--config", dir + "/agentd.toml", "--model", "nope"}, 20s).code, 2);
}

TEST(InteractiveCommand, PromptLoopCommandsAndATask) {
  std::string dir = freshDir("interactive");
  writeFile(dir + "/agentd.toml", config(dir, kTwoSteps));
  RunResult r =
      run({kAgentd, "interactive", "--config", dir + "/agentd.toml", "--working-dir", dir}, 60s,
          "help\nstatus\nsay hello\nstatus\nexit\n");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("status  configuration, agent, model, last task"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("agent: default"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("last task: none"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("completed in 2 steps"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("last task: completed"), std::string::npos) << r.output;
}

// Without --trajectory-file each task of a session gets a record of its own, even when the
// default name (the current second) is taken: by an earlier task, by a trajectory already there,
// or by the event log of a task that never finished its record.
TEST(InteractiveCommand, EveryTaskGetsATrajectoryOfItsOwn) {
  std::string dir = freshDir("interactive-names");
  writeFile(dir + "/agentd.toml", config(dir, std::string(kTwoSteps) + kTwoSteps));
  // The names of every second this test may run in are taken already, half of them by a
  // trajectory, half by an event log alone.
  std::vector<std::string> taken;
  std::time_t now = std::time(nullptr);
  for (int s = -1; s <= 60; ++s) {
    std::time_t t = now + s;
    tm local{};
    localtime_r(&t, &local);
    char name[64];
    std::strftime(name, sizeof name, "trajectory_%Y%m%d_%H%M%S", &local);
    taken.push_back(dir + "/trajectories/" + name + (s % 2 ? ".json" : ".events.jsonl"));
    writeFile(taken.back(), "kept");
  }
  RunResult r =
      run({"/bin/sh", "-c",
           "cd \"$0\" && exec \"$1\" interactive --config agentd.toml --working-dir \"$0\"", dir,
           kAgentd},
          60s, "say hello\nsay again\nexit\n");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const auto& p : taken) EXPECT_EQ(readFile(p), "kept") << p;
  std::multiset<std::string> tasks;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/trajectories")) {
    std::string path = e.path().string();
    if (e.path().extension() != ".json" || readFile(path) == "kept") continue;
    rapidjson::Document d;
    d.Parse(readFile(path).c_str());
    ASSERT_TRUE(d.IsObject() && d.HasMember("task")) << path;
    tasks.insert(d["task"].GetString());
    // Its event log beside it holds this task's events only.
    std::string events = readFile(path.substr(0, path.size() - 5) + ".events.jsonl");
    EXPECT_NE(events.find(d["task"].GetString()), std::string::npos) << path;
    size_t starts = 0;
    for (size_t at = events.find("\"task_start\""); at != std::string::npos;
         at = events.find("\"task_start\"", at + 1))
      ++starts;
    EXPECT_EQ(starts, 1u) << events;
  }
  EXPECT_EQ(tasks, (std::multiset<std::string>{"say hello", "say again"})) << r.output;
}

TEST(ToolsCommand, ListsEveryToolWithItsSchema) {
  std::string dir = freshDir("tools");
  writeFile(dir + "/agentd.toml", config(dir, kTwoSteps));
  RunResult r = run({kAgentd, "tools", "--config", dir + "/agentd.toml"}, 30s);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("echo (plugin good)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("task_done (plugin task_done)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(R"("required":["text"])"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace agentd::testing
