// The agent loop: builds the conversation (system prompt, skills index, task), calls the model
// with the agent's tools, runs the tool calls it asks for (in parallel when the model allows),
// feeds the results back, and repeats until task_done, a final answer, max_steps, a stop request
// or an error. Every step emits typed events; the trajectory is written when the task ends.
// Runs as a C++20 coroutine on an io_context: a waiting task costs memory, not a thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "agent/task.h"
#include "plugin/runner.h"

namespace boost::asio {
class io_context;
}

namespace agentd::agent {

struct RunEnv {
  plugin::ToolRunner* tools = nullptr;  // runs tool calls (bounded pool, timeouts)
  plugin::PluginHost* host = nullptr;   // told when a task ends (end_task)
};

// Starts task on io; on_done runs on io after the task reached a final state and its records
// were written.
void startTask(boost::asio::io_context& io, std::shared_ptr<Task> task, RunEnv env,
               std::function<void()> on_done);

// The message a must_patch task gets while `git diff` is empty (trae-agent's wording).
inline constexpr const char* kEmptyPatchMessage =
    "ERROR! Your Patch is empty. Please provide a patch that fixes the problem.";

// Returns `git --no-pager diff` of dir (empty when nothing changed), or an error.
Result<std::string> gitDiff(const std::string& dir);

}  // namespace agentd::agent
