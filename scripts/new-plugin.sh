#!/usr/bin/env bash
# new-plugin.sh NAME --kind tool|skill [--dir PARENT]: creates PARENT/NAME (default ./NAME), a
# plugin project that builds out of tree against the installed agentd SDK:
#   CMakeLists.txt   find_package(agentd-sdk) + agentd_add_plugin(NAME ...)
#   NAME.cc          a working plugin of that kind (C++, agentd/plugin.hpp)
#   README.md        how to build, check and load it
# Then:
#   cmake --install build --component sdk --prefix /opt/agentd-sdk     # from an agentd build tree
#   cmake -S NAME -B NAME/build -DCMAKE_PREFIX_PATH=/opt/agentd-sdk && cmake --build NAME/build
#   agentd plugins list --plugin NAME/build/NAME.so
# AGENT_TEMPLATE_GUIDE.md explains every piece.
set -euo pipefail

usage() {
  echo "usage: $0 NAME --kind tool|skill [--dir PARENT]" >&2
  echo "  NAME: [a-z][a-z0-9_]* (the plugin's name, its .so and its first tool or skill)" >&2
  exit 2
}

name=""
kind=""
parent="."
while [ $# -gt 0 ]; do
  case "$1" in
    --kind) [ $# -ge 2 ] || usage; kind="$2"; shift 2 ;;
    --kind=*) kind="${1#--kind=}"; shift ;;
    --dir) [ $# -ge 2 ] || usage; parent="$2"; shift 2 ;;
    --dir=*) parent="${1#--dir=}"; shift ;;
    -h|--help) usage ;;
    -*) echo "unknown option: $1" >&2; usage ;;
    *) [ -z "$name" ] || usage; name="$1"; shift ;;
  esac
done
[ -n "$name" ] || usage
if ! [[ "$name" =~ ^[a-z][a-z0-9_]{0,62}$ ]]; then
  echo "invalid NAME '$name': use [a-z][a-z0-9_]* (at most 63 characters)" >&2
  exit 2
fi
case "$kind" in
  tool|skill) ;;
  *) echo "--kind must be tool or skill" >&2; usage ;;
esac
dir="$parent/$name"
if [ -e "$dir" ]; then
  echo "$dir already exists; not overwriting it" >&2
  exit 1
fi
mkdir -p "$dir"

cat >"$dir/CMakeLists.txt" <<EOF
# The $name agentd plugin, built out of tree against the installed SDK:
#   cmake -S . -B build -DCMAKE_PREFIX_PATH=/opt/agentd-sdk && cmake --build build
cmake_minimum_required(VERSION 3.25)
project($name LANGUAGES CXX)
find_package(agentd-sdk REQUIRED)
agentd_add_plugin($name SOURCES $name.cc)
EOF

if [ "$kind" = tool ]; then
  cat >"$dir/$name.cc" <<EOF
// $name: an agentd tool plugin. One instance per load; invoke() may run on several threads at
// once. See AGENT_TEMPLATE_GUIDE.md ("Writing a tool") and sdk/ABI.md for the rules.
#include <agentd/plugin.hpp>

#include <atomic>
#include <string>
#include <string_view>

namespace {

// JSON Schema of the plugin's [plugins.$name] config table, checked by the host before create()
// and reconfigure(). Add your settings under "properties".
constexpr const char* kConfigSchema = R"({"type": "object", "additionalProperties": false,
  "properties": {}})";

class Plugin final : public agentd::sdk::Plugin {
 public:
  Plugin(agentd::sdk::Host host, std::string_view /*config_json*/) : host_(host) {
    host_.info("$name ready");
  }

  void listTools(const agentd::sdk::ToolList& tools) override {
    tools.add("$name", "Echoes its arguments (replace with what your tool does).",
              R"({"type":"object","properties":{"text":{"type":"string"}},"required":["text"]})");
  }

  void invoke(const agentd::sdk::Call& call, std::string_view tool,
              std::string_view args_json) override {
    if (tool != "$name") {
      throw agentd::sdk::Error(AGENTD_ENOTFOUND, "unknown tool: " + std::string(tool));
    }
    if (call.cancelled()) throw agentd::sdk::Error(AGENTD_ECANCELED, "cancelled");
    long n = ++calls_;  // invoke() runs concurrently: shared state is atomic or locked
    // args_json is a JSON object; parse it with any JSON library you link.
    call.emitJson(R"({"tool":"$name","call":)" + std::to_string(n) + R"(,"arguments":)" +
                  std::string(args_json) + "}");
  }

  // A config-only change of [plugins.$name] arrives here while calls run; throw
  // agentd::sdk::Error(AGENTD_EINVAL, "...") to reject it (the old config stays in force).
  void reconfigure(std::string_view /*config_json*/) override {}

 private:
  agentd::sdk::Host host_;
  std::atomic<long> calls_{0};
};

}  // namespace

AGENTD_PLUGIN(Plugin, AGENTD_KIND_TOOL, "$name", "0.1.0", "The $name tool.", kConfigSchema)
EOF
else
  cat >"$dir/$name.cc" <<EOF
// $name: an agentd skill plugin. A skill is a name, a one-line description the agent sees in its
// system prompt, and instructions it loads when a task matches. A skill plugin may also offer
// tools (listTools/invoke), like a tool plugin. See AGENT_TEMPLATE_GUIDE.md ("Writing a skill").
#include <agentd/plugin.hpp>

#include <string_view>

namespace {

constexpr const char* kInstructions = R"(# $name

1. Describe, step by step, how the agent should approach tasks of this kind.
2. Name the tools to use and the checks to run before calling task_done.
)";

class Plugin final : public agentd::sdk::Plugin {
 public:
  Plugin(agentd::sdk::Host host, std::string_view /*config_json*/) { host.info("$name ready"); }

  void listSkills(const agentd::sdk::SkillList& skills) override {
    skills.add("$name", "When to use this skill, in one line (replace me).", kInstructions);
  }
};

}  // namespace

AGENTD_PLUGIN(Plugin, AGENTD_KIND_SKILL, "$name", "0.1.0", "The $name skill.", nullptr)
EOF
fi

cat >"$dir/README.md" <<EOF
# $name

An agentd $kind plugin, created by \`scripts/new-plugin.sh $name --kind $kind\`.

Build it against the installed SDK (from an agentd build tree:
\`cmake --install build --component sdk --prefix /opt/agentd-sdk\`):

\`\`\`sh
cmake -S . -B build -DCMAKE_PREFIX_PATH=/opt/agentd-sdk
cmake --build build                         # -> build/$name.so
agentd plugins list --plugin build/$name.so
\`\`\`

Load it from \`agentd.toml\`:

\`\`\`toml
[plugins.$name]
path = "/path/to/$name.so"
EOF
if [ "$kind" = tool ]; then
  cat >>"$dir/README.md" <<EOF
config = {}                # optional; checked against kConfigSchema in $name.cc

[agents.default]
tools = ["$name", "task_done"]
\`\`\`
EOF
else
  cat >>"$dir/README.md" <<EOF

[agents.default]
skills = ["$name"]
\`\`\`
EOF
fi
cat >>"$dir/README.md" <<EOF

Edit the config or install a new build (write a new file, point \`path\` at it) while agentd
runs: the change is applied live. AGENT_TEMPLATE_GUIDE.md in the agentd repository is the
reference.
EOF

echo "created $dir ($kind plugin): CMakeLists.txt, $name.cc, README.md"
