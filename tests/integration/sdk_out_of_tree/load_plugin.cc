// load_plugin PLUGIN.so COPY_DIR NAME TOOL EXPECTED_OUTPUT: loads PLUGIN.so through the host's
// loader (Library::open), checks that its descriptor is named NAME, calls TOOL with {"name":"x"}
// and expects EXPECTED_OUTPUT, then retires it and expects the image to be unmapped.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "plugin/generation.h"
#include "plugin/library.h"

namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "load_plugin: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using agentd::plugin::Generation;
  using agentd::plugin::Library;
  using agentd::plugin::LoadFailure;
  if (argc != 6) return fail("usage: load_plugin PLUGIN.so COPY_DIR NAME TOOL EXPECTED_OUTPUT");
  const std::string path = argv[1], copy_dir = argv[2], name = argv[3], tool = argv[4],
                    expected = argv[5];

  LoadFailure why = LoadFailure::kNone;
  auto lib = Library::open(path, copy_dir, "", &why);
  if (!lib.ok()) {
    return fail(std::string("open failed (") + agentd::plugin::loadFailureName(why) +
                "): " + lib.status().toString());
  }
  const agentd_plugin& d = (*lib)->descriptor();
  if (name != d.name) return fail("descriptor name is '" + std::string(d.name) + "'");
  if ((*lib)->abiString() != agentd::plugin::abiVersionString(AGENTD_ABI_VERSION)) {
    return fail("plugin ABI " + (*lib)->abiString());
  }
  std::printf("loaded %s %s (ABI %s, kind %u) from %s\n", d.name, d.version,
              (*lib)->abiString().c_str(), d.kind, (*lib)->copyPath().c_str());

  auto gen = Generation::create(std::move(*lib), "{}", 1, &why);
  if (!gen.ok()) {
    return fail(std::string("create failed (") + agentd::plugin::loadFailureName(why) +
                "): " + gen.status().toString());
  }
  std::shared_ptr<Generation> g = *gen;
  auto tools = g->tools();
  bool listed = false;
  for (const auto& t : *tools) listed = listed || t.name == tool;
  agentd::plugin::ToolResult r;
  {
    agentd::plugin::GateGuard guard(g->gate());
    r = g->invoke(tool, R"({"name":"x"})", agentd::plugin::CallContext{});
  }
  auto outcome = g->retire(std::chrono::seconds(5));
  if (!listed) return fail("tool " + tool + " is not listed");
  if (!r.ok) return fail("call failed: " + r.error);
  if (r.output != expected) return fail("output '" + r.output + "', expected '" + expected + "'");
  if (outcome != agentd::plugin::RetireOutcome::kUnloaded) return fail("not unloaded on retire");
  std::printf("%s -> %s; unloaded\n", tool.c_str(), r.output.c_str());
  return 0;
}
