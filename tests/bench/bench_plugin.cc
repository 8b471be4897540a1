// The plugin side of plugin_call_bench: the same work as the benchmark's DirectTool, nothing more.
#include <rapidjson/document.h>
#include <agentd/plugin.hpp>

#include <string>

namespace {

class BenchPlugin : public agentd::sdk::Plugin {
 public:
  BenchPlugin(agentd::sdk::Host, std::string_view) {}

  void listTools(const agentd::sdk::ToolList& tools) override {
    tools.add("noop", "Does nothing.", R"({"type":"object"})");
    tools.add("echo", "Returns the text argument.",
              R"({"type":"object","properties":{"text":{"type":"string"}},"required":["text"]})");
  }

  void invoke(const agentd::sdk::Call& call, std::string_view tool,
              std::string_view args) override {
    if (tool == "noop") return;
    rapidjson::Document doc;
    doc.Parse(args.data(), args.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      throw agentd::sdk::Error(AGENTD_EINVAL, "arguments must be a JSON object");
    }
    auto it = doc.FindMember("text");
    if (it == doc.MemberEnd() || !it->value.IsString()) {
      throw agentd::sdk::Error(AGENTD_EINVAL, "text must be a string");
    }
    call.emit(std::string_view(it->value.GetString(), it->value.GetStringLength()));
  }
};

}  // namespace

AGENTD_PLUGIN(BenchPlugin, AGENTD_KIND_TOOL, "bench", "1.0.0", "Benchmark plugin.", nullptr)
