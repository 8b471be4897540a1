// Plugin "sequentialthinking": one tool, `sequentialthinking`, a scratchpad on which the model
// reasons step by step, revising or branching earlier thoughts. Mirrors trae-agent's
// SequentialThinkingTool (itself after the MCP sequential-thinking server), with the thought
// history and branches kept per task (call context "task_id") and released by end_task.
//
// Config: {"max_thoughts_per_task": integer >= 1} (optional, default 1000); a call that would
// exceed it fails, so a model stuck in a loop cannot grow a task's history without bound.
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <agentd/plugin.hpp>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>
#include "plugin_json.h"

namespace {

using agentd::sdk::Error;

constexpr const char* kToolName = "sequentialthinking";
constexpr int64_t kDefaultMaxThoughtsPerTask = 1000;

constexpr const char* kDescription =
    R"(A tool for dynamic, reflective problem-solving through a sequence of thoughts.
Each thought can build on, question or revise earlier ones as your understanding deepens, so the
analysis can change course instead of following a fixed plan.

When to use this tool:
- Breaking a complex problem down into steps
- Planning and design that may need revision
- Analysis that might need course correction
- Problems whose full scope is unclear at the start
- Problems that need a multi-step solution
- Tasks that must keep context over several steps
- Situations where irrelevant information has to be filtered out

Key features:
- Adjust total_thoughts up or down as you go
- Question or revise earlier thoughts
- Add more thoughts even after what looked like the end
- Express uncertainty and explore alternatives
- Branch or backtrack instead of always thinking linearly
- Form a solution hypothesis, verify it against the chain of thoughts, and repeat until satisfied

Parameters:
- thought: the current thinking step: an analytical step, a revision, a question about an earlier
  decision, the realization that more analysis is needed, a change of approach, a hypothesis or
  its verification
- next_thought_needed: true if more thinking is needed, even if this seemed to be the end
- thought_number: number of this thought in the sequence (may exceed the initial total)
- total_thoughts: current estimate of the thoughts needed (may be adjusted up or down)
- is_revision: true if this thought revises earlier thinking
- revises_thought: if is_revision is true, the number of the thought being reconsidered
- branch_from_thought: if branching, the number of the thought this branch starts from
- branch_id: identifier of the current branch, if any
- needs_more_thoughts: true if you reached the end but realize more thoughts are needed

You should:
1. Start with an estimate of the thoughts needed, but be ready to change it
2. Question or revise earlier thoughts freely
3. Add more thoughts when needed, even at the "end"
4. Say so when you are uncertain
5. Mark thoughts that revise earlier thinking or start a branch
6. Ignore information that is irrelevant to the current step
7. Form a solution hypothesis when appropriate
8. Verify the hypothesis against the chain of thoughts
9. Repeat until you are satisfied with the solution
10. Give a single, ideally correct answer as the final output
11. Set next_thought_needed to false only when you are truly done and have a satisfactory answer)";

constexpr const char* kInputSchema =
    R"({"type":"object","properties":{)"
    R"("thought":{"type":"string","description":"Your current thinking step"},)"
    R"("next_thought_needed":{"type":"boolean",)"
    R"("description":"Whether another thought step is needed"},)"
    R"("thought_number":{"type":"integer","minimum":1,)"
    R"("description":"Current thought number. Minimum value is 1."},)"
    R"("total_thoughts":{"type":"integer","minimum":1,)"
    R"("description":"Estimated total thoughts needed. Minimum value is 1."},)"
    R"("is_revision":{"type":"boolean","description":"Whether this revises previous thinking"},)"
    R"("revises_thought":{"type":"integer","minimum":1,)"
    R"("description":"Which thought is being reconsidered. Minimum value is 1."},)"
    R"("branch_from_thought":{"type":"integer","minimum":1,)"
    R"("description":"Branching point thought number. Minimum value is 1."},)"
    R"("branch_id":{"type":"string","description":"Branch identifier"},)"
    R"("needs_more_thoughts":{"type":"boolean","description":"If more thoughts are needed"}},)"
    R"("required":["thought","next_thought_needed","thought_number","total_thoughts"]})";

constexpr const char* kConfigSchema =
    R"({"type":"object","properties":{"max_thoughts_per_task":{"type":"integer","minimum":1}},)"
    R"("additionalProperties":false})";

struct Thought {
  std::string thought;
  int64_t thought_number = 0;
  int64_t total_thoughts = 0;
  bool next_thought_needed = false;
  std::optional<bool> is_revision;
  std::optional<int64_t> revises_thought;
  std::optional<int64_t> branch_from_thought;
  std::optional<std::string> branch_id;
  std::optional<bool> needs_more_thoughts;
};

// One task's thoughts. Guarded by mu.
struct TaskState {
  std::mutex mu;
  std::vector<Thought> history;
  std::vector<std::string> branch_ids;                            // in order of first use
  std::unordered_map<std::string, std::vector<size_t>> branches;  // id -> indexes into history
};

const char* typeName(const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "boolean";
    case rapidjson::kObjectType:
      return "object";
    case rapidjson::kArrayType:
      return "array";
    case rapidjson::kStringType:
      return "string";
    case rapidjson::kNumberType:
      return "number";
  }
  return "value";
}

rapidjson::Document parseObject(std::string_view json, std::string_view what) {
  rapidjson::Document doc;
  if (json.empty()) throw Error(AGENTD_EINVAL, std::string(what) + " must be a JSON object");
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    throw Error(AGENTD_EINVAL, std::string(what) + " are not valid JSON: " +
                                   rapidjson::GetParseError_En(doc.GetParseError()) + " (offset " +
                                   std::to_string(doc.GetErrorOffset()) + ")");
  }
  if (!doc.IsObject()) throw Error(AGENTD_EINVAL, std::string(what) + " must be a JSON object");
  return doc;
}

// Returns the member, or nullptr when it is absent or null (OpenAI strict mode sends null for
// optional parameters).
using agentd::plugins::find;

const rapidjson::Value& require(const rapidjson::Value& obj, const char* name) {
  const rapidjson::Value* v = find(obj, name);
  if (v == nullptr) throw Error(AGENTD_EINVAL, std::string("missing required parameter: ") + name);
  return *v;
}

[[noreturn]] void wrongType(const char* name, const char* expected, const rapidjson::Value& v) {
  throw Error(AGENTD_EINVAL,
              std::string("invalid ") + name + ": must be " + expected + ", got " + typeName(v));
}

std::string asString(const char* name, const rapidjson::Value& v) {
  if (!v.IsString()) wrongType(name, "a string", v);
  return std::string(v.GetString(), v.GetStringLength());
}

bool asBool(const char* name, const rapidjson::Value& v) {
  if (!v.IsBool()) wrongType(name, "a boolean", v);
  return v.GetBool();
}

// An integer >= 1. Like JSON Schema's "integer", accepts numbers with a zero fraction (3.0).
int64_t asPositiveInt(const char* name, const rapidjson::Value& v) {
  int64_t n = 0;
  if (v.IsInt64()) {
    n = v.GetInt64();
  } else if (v.IsDouble() && std::isfinite(v.GetDouble()) &&
             std::trunc(v.GetDouble()) == v.GetDouble() && std::fabs(v.GetDouble()) < 9.0e15) {
    n = static_cast<int64_t>(v.GetDouble());
  } else if (v.IsNumber()) {
    throw Error(AGENTD_EINVAL, std::string("invalid ") + name + ": must be an integer");
  } else {
    wrongType(name, "an integer", v);
  }
  if (n < 1) {
    throw Error(AGENTD_EINVAL,
                std::string("invalid ") + name + ": must be at least 1, got " + std::to_string(n));
  }
  return n;
}

// Validates the tool arguments. Throws Error(AGENTD_EINVAL) naming the offending parameter.
Thought parseThought(std::string_view args_json) {
  rapidjson::Document args = parseObject(args_json, "arguments");
  Thought t;
  t.thought = asString("thought", require(args, "thought"));
  t.next_thought_needed = asBool("next_thought_needed", require(args, "next_thought_needed"));
  t.thought_number = asPositiveInt("thought_number", require(args, "thought_number"));
  t.total_thoughts = asPositiveInt("total_thoughts", require(args, "total_thoughts"));
  if (const auto* v = find(args, "is_revision")) t.is_revision = asBool("is_revision", *v);
  if (const auto* v = find(args, "revises_thought")) {
    t.revises_thought = asPositiveInt("revises_thought", *v);
  }
  if (const auto* v = find(args, "branch_from_thought")) {
    t.branch_from_thought = asPositiveInt("branch_from_thought", *v);
  }
  if (const auto* v = find(args, "branch_id")) t.branch_id = asString("branch_id", *v);
  if (const auto* v = find(args, "needs_more_thoughts")) {
    t.needs_more_thoughts = asBool("needs_more_thoughts", *v);
  }
  return t;
}

// Returns max_thoughts_per_task from config_json. Throws Error(AGENTD_EINVAL) on a bad config.
int64_t maxThoughtsFrom(std::string_view config_json) {
  rapidjson::Document config = parseObject(config_json.empty() ? "{}" : config_json, "config");
  for (const auto& m : config.GetObject()) {
    std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (key != "max_thoughts_per_task") {
      throw Error(AGENTD_EINVAL, "unknown config key: " + std::string(key));
    }
  }
  const rapidjson::Value* v = find(config, "max_thoughts_per_task");
  return v == nullptr ? kDefaultMaxThoughtsPerTask : asPositiveInt("max_thoughts_per_task", *v);
}

class SequentialThinking : public agentd::sdk::Plugin {
 public:
  SequentialThinking(agentd::sdk::Host /*host*/, std::string_view config_json)
      : max_thoughts_(maxThoughtsFrom(config_json)) {}

  void listTools(const agentd::sdk::ToolList& tools) override {
    tools.add(kToolName, kDescription, kInputSchema, AGENTD_TOOL_INLINE);  // pure computation
  }

  void invoke(const agentd::sdk::Call& call, std::string_view tool,
              std::string_view args) override {
    if (tool != kToolName) throw Error(AGENTD_ENOTFOUND, "unknown tool: " + std::string(tool));
    Thought t = parseThought(args);
    if (t.thought_number > t.total_thoughts) t.total_thoughts = t.thought_number;

    std::shared_ptr<TaskState> state = stateFor(call.context("task_id"));
    rapidjson::StringBuffer out;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      const int64_t max = max_thoughts_.load(std::memory_order_relaxed);
      if (static_cast<int64_t>(state->history.size()) >= max) {
        throw Error(AGENTD_ERR, "thought limit reached: this task already has " +
                                    std::to_string(max) +
                                    " thoughts (config max_thoughts_per_task)");
      }
      state->history.push_back(std::move(t));
      const Thought& added = state->history.back();
      if (added.branch_from_thought && added.branch_id && !added.branch_id->empty()) {
        auto [it, inserted] = state->branches.try_emplace(*added.branch_id);
        if (inserted) state->branch_ids.push_back(*added.branch_id);
        it->second.push_back(state->history.size() - 1);
      }

      rapidjson::Writer<rapidjson::StringBuffer> w(out);
      w.StartObject();
      w.Key("thought_number");
      w.Int64(added.thought_number);
      w.Key("total_thoughts");
      w.Int64(added.total_thoughts);
      w.Key("next_thought_needed");
      w.Bool(added.next_thought_needed);
      w.Key("branches");
      w.StartArray();
      for (const std::string& id : state->branch_ids) {
        w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
      }
      w.EndArray();
      w.Key("thought_history_length");
      w.Uint64(state->history.size());
      w.EndObject();
    }
    call.emitJson(std::string_view(out.GetString(), out.GetSize()));
  }

  void reconfigure(std::string_view config_json) override {
    max_thoughts_.store(maxThoughtsFrom(config_json), std::memory_order_relaxed);
  }

  void endTask(std::string_view task_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.erase(std::string(task_id));
  }

 private:
  // Returns the state of task_id, creating it on first use. Calls without a task id share the
  // state under the empty key.
  std::shared_ptr<TaskState> stateFor(std::string_view task_id) {
    std::lock_guard<std::mutex> lock(mu_);
    std::shared_ptr<TaskState>& state = tasks_[std::string(task_id)];
    if (!state) state = std::make_shared<TaskState>();
    return state;
  }

  std::atomic<int64_t> max_thoughts_;
  std::mutex mu_;  // guards tasks_ (the map, not the states)
  std::unordered_map<std::string, std::shared_ptr<TaskState>> tasks_;
};

}  // namespace

AGENTD_PLUGIN(SequentialThinking, AGENTD_KIND_TOOL, "sequentialthinking", "0.1.0",
              "Provides sequentialthinking, a step-by-step reasoning scratchpad kept per task.",
              kConfigSchema)
