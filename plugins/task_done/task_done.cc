// Plugin "task_done": one tool, `task_done`, with which the model reports that its task is
// complete. Mirrors trae-agent's TaskDoneTool: no parameters, returns the text "Task done.".
#include <agentd/plugin.hpp>

#include <string>
#include <string_view>

namespace {

constexpr const char* kToolName = "task_done";
constexpr const char* kDescription =
    "Report that the task is complete. Do not call this tool before the solution has been "
    "verified: first check your work, for example by writing and running a reproduction or "
    "test script, and only call task_done once that verification succeeds.";
constexpr const char* kInputSchema = R"({"type":"object","properties":{},"required":[]})";
// No config keys; the host rejects any key before create() or reconfigure() sees it.
constexpr const char* kConfigSchema =
    R"({"type":"object","properties":{},"additionalProperties":false})";

class TaskDone : public agentd::sdk::Plugin {
 public:
  TaskDone(agentd::sdk::Host /*host*/, std::string_view /*config_json*/) {}

  void listTools(const agentd::sdk::ToolList& tools) override {
    tools.add(kToolName, kDescription, kInputSchema, AGENTD_TOOL_INLINE);  // pure computation
  }

  // The arguments are ignored, as in trae-agent.
  void invoke(const agentd::sdk::Call& call, std::string_view tool,
              std::string_view /*args*/) override {
    if (tool != kToolName) {
      throw agentd::sdk::Error(AGENTD_ENOTFOUND, "unknown tool: " + std::string(tool));
    }
    call.emit("Task done.");
  }

  // There is nothing to configure, so every (host-validated, empty) config is accepted.
  void reconfigure(std::string_view /*config_json*/) override {}
};

}  // namespace

AGENTD_PLUGIN(TaskDone, AGENTD_KIND_TOOL, "task_done", "0.1.0",
              "Provides task_done, the tool an agent calls once its task is verified complete.",
              kConfigSchema)
