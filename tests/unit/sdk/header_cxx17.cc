// Compiled by the sdk_header_cxx17 test with -std=c++17 -Wall -Wextra -Werror -pedantic: plugin.hpp
// (and every trampoline it instantiates) must stay warning-free C++17.
#include <agentd/plugin.hpp>

#include <string>
#include <string_view>

namespace {

class Cxx17 : public agentd::sdk::Plugin {
 public:
  Cxx17(agentd::sdk::Host host, std::string_view /*config_json*/)
      : calls_(host.defineMetric(AGENTD_METRIC_COUNTER, "cxx17_calls_total", "Calls.", {"tool"})) {
    host.info("created");
  }
  void listTools(const agentd::sdk::ToolList& tools) override {
    tools.add("t", "A tool.", R"({"type":"object"})");
  }
  void listSkills(const agentd::sdk::SkillList& skills) override {
    skills.add("s", "A skill.", "Do it.");
  }
  void invoke(const agentd::sdk::Call& call, std::string_view tool,
              std::string_view args) override {
    calls_.record(1, {tool});
    if (call.cancelled()) throw agentd::sdk::Error(AGENTD_ECANCELED, "cancelled");
    call.progress(1, 1);
    call.emit(std::string(call.context("task_id")) + std::string(args));
  }
  void reconfigure(std::string_view /*config_json*/) override {}

 private:
  agentd::sdk::Metric calls_;
};

}  // namespace

AGENTD_PLUGIN(Cxx17, AGENTD_KIND_SKILL, "cxx17", "1.0.0", "C++17 compile check.", nullptr)
