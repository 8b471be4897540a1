// A tool call through the plugin ABI (PluginHost::call -> gate -> C trampoline -> C++ plugin ->
// host emit) against a direct virtual call doing the same JSON work in-process.
#include <benchmark/benchmark.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "observability/log.h"
#include "plugin/host.h"
#include "plugin/runner.h"

namespace {

using agentd::plugin::CallContext;
using agentd::plugin::PluginHost;
using agentd::plugin::PluginSpec;

// The baseline: what a statically linked tool would be.
class Tool {
 public:
  virtual ~Tool() = default;
  virtual bool invoke(std::string_view tool, std::string_view args, std::string* out) = 0;
};

// Does what bench_plugin.so's `echo` and `noop` do: parse the arguments, copy out "text".
class DirectTool : public Tool {
 public:
  bool invoke(std::string_view tool, std::string_view args, std::string* out) override {
    if (tool == "noop") return true;
    rapidjson::Document doc;
    doc.Parse(args.data(), args.size());
    if (doc.HasParseError() || !doc.IsObject()) return false;
    auto it = doc.FindMember("text");
    if (it == doc.MemberEnd() || !it->value.IsString()) return false;
    out->assign(it->value.GetString(), it->value.GetStringLength());
    return true;
  }
};

PluginHost& host() {
  static PluginHost* h = [] {
    agentd::log::setLevel(agentd::log::Level::kError);
    auto dir =
        std::filesystem::path(AGENTD_BINARY_DIR) / "bench" / ("copies-" + std::to_string(getpid()));
    auto* host = new PluginHost({dir.string(), std::chrono::milliseconds(1000)});
    PluginSpec s;
    s.path = AGENTD_BENCH_PLUGIN;
    if (!host->apply({s}).isOk()) std::abort();
    return host;
  }();
  return *h;
}

constexpr std::string_view kEchoArgs = R"({"text":"hello, plugin"})";

void BM_DirectVirtual_Noop(benchmark::State& state) {
  std::unique_ptr<Tool> tool = std::make_unique<DirectTool>();
  std::string out;
  for (auto _ : state) {
    benchmark::DoNotOptimize(tool->invoke("noop", "{}", &out));
  }
}
BENCHMARK(BM_DirectVirtual_Noop);

void BM_PluginAbi_Noop(benchmark::State& state) {
  PluginHost& h = host();
  CallContext ctx;
  for (auto _ : state) {
    auto r = h.call("noop", "{}", ctx);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_PluginAbi_Noop)->ThreadRange(1, 2);

void BM_DirectVirtual_EchoJson(benchmark::State& state) {
  std::unique_ptr<Tool> tool = std::make_unique<DirectTool>();
  std::string out;
  for (auto _ : state) {
    benchmark::DoNotOptimize(tool->invoke("echo", kEchoArgs, &out));
  }
}
BENCHMARK(BM_DirectVirtual_EchoJson);

void BM_PluginAbi_EchoJson(benchmark::State& state) {
  PluginHost& h = host();
  CallContext ctx;
  for (auto _ : state) {
    auto r = h.call("echo", kEchoArgs, ctx);
    if (!r.ok) state.SkipWithError(r.error.c_str());
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_PluginAbi_EchoJson);

// With the thread-pool hop and timeout the agent loop uses (for context, not the ABI figure).
void BM_ToolRunner_EchoJson(benchmark::State& state) {
  static agentd::plugin::ToolRunner runner(host(), {2, 64});
  for (auto _ : state) {
    auto r = runner.run("echo", std::string(kEchoArgs), {}, std::chrono::seconds(10));
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ToolRunner_EchoJson);

}  // namespace

BENCHMARK_MAIN();
