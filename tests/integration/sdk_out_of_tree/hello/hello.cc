// hello.cc: a minimal agentd tool plugin in C++, built out of tree against the installed SDK.
#include <agentd/plugin.hpp>

#include <string>
#include <string_view>

namespace {

class Hello : public agentd::sdk::Plugin {
 public:
  Hello(agentd::sdk::Host host, std::string_view /*config_json*/) {
    host.info("hello plugin ready");
  }

  void listTools(const agentd::sdk::ToolList& tools) override {
    tools.add("hello", "Says hello and echoes its arguments.",
              R"({"type":"object","properties":{"name":{"type":"string"}}})");
  }

  void invoke(const agentd::sdk::Call& call, std::string_view tool,
              std::string_view args_json) override {
    if (tool != "hello") {
      throw agentd::sdk::Error(AGENTD_ENOTFOUND, "unknown tool: " + std::string(tool));
    }
    // args_json is always a JSON object, so it can be embedded as a value.
    call.emitJson(R"({"message":"hello","arguments":)" + std::string(args_json) + "}");
  }
};

}  // namespace

AGENTD_PLUGIN(Hello, AGENTD_KIND_TOOL, "hello", "1.0.0", "Says hello.", nullptr)
