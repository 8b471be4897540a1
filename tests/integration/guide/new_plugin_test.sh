#!/usr/bin/env bash
# new_plugin_test.sh BINARY_DIR TMP_ROOT: scripts/new-plugin.sh creates a tool and a skill plugin
# in a temporary directory; each builds out of tree against the SDK installed into a temporary
# prefix (cmake --install --component sdk), loads with `agentd plugins list --plugin`, and runs:
# a scripted model calls the generated tool, and the agent's system prompt lists the skill.
# Bad names and an existing directory are refused.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
bin="$1"
tmp="$(mktemp -d "$2/new_plugin.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
agentd="$bin/bin/agentd"
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$bin" --component sdk --prefix "$tmp/prefix" >/dev/null
"$root/scripts/new-plugin.sh" demo_tool --kind tool --dir "$tmp"
"$root/scripts/new-plugin.sh" demo_skill --kind=skill --dir="$tmp"
for f in CMakeLists.txt demo_tool.cc README.md; do [ -f "$tmp/demo_tool/$f" ] || fail "no $f"; done
grep -q "find_package(agentd-sdk REQUIRED)" "$tmp/demo_tool/CMakeLists.txt" || fail "no find_package"
grep -q "agentd_add_plugin(demo_skill SOURCES demo_skill.cc)" "$tmp/demo_skill/CMakeLists.txt" ||
  fail "no agentd_add_plugin"

for p in demo_tool demo_skill; do
  cmake -S "$tmp/$p" -B "$tmp/$p/build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$tmp/$p.log" 2>&1 || { cat "$tmp/$p.log"; fail "configure $p"; }
  grep -q "^agentd-sdk_DIR:PATH=$tmp/prefix/" "$tmp/$p/build/CMakeCache.txt" ||
    fail "$p did not find the SDK in the temporary prefix"
  cmake --build "$tmp/$p/build" >>"$tmp/$p.log" 2>&1 || { cat "$tmp/$p.log"; fail "build $p"; }
  ! grep -i "warning" "$tmp/$p.log" || fail "$p builds with warnings"
  [ -f "$tmp/$p/build/$p.so" ] || fail "$p.so not built"
done

out="$("$agentd" plugins list --plugin "$tmp/demo_tool/build/demo_tool.so" --json)"
echo "$out"
grep -q '"name":"demo_tool","kind":"tool"' <<<"$out" || fail "demo_tool not listed as a tool"
grep -q '"tools":\[{"name":"demo_tool"' <<<"$out" || fail "demo_tool offers no demo_tool tool"
grep -q '"errors":\[\]' <<<"$out" || fail "load errors"
out="$("$agentd" plugins list --plugin "$tmp/demo_skill/build/demo_skill.so" --json)"
echo "$out"
grep -q '"name":"demo_skill","kind":"skill"' <<<"$out" || fail "demo_skill not listed as a skill"
grep -q '"skills":\[{"name":"demo_skill"' <<<"$out" || fail "demo_skill offers no skill"

# Run both: a scripted model calls the tool; the skill is listed in the system prompt.
cat >"$tmp/turns.jsonl" <<'TURNS'
{"tool_calls":[{"id":"c1","name":"demo_tool","arguments":{"text":"hi"}}]}
{"tool_calls":[{"id":"c2","name":"task_done","arguments":{}}]}
{"content":"done"}
TURNS
cat >"$tmp/agentd.toml" <<TOML
[plugins.demo_tool]
path = "demo_tool/build/demo_tool.so"
config = {}
[plugins.demo_skill]
path = "demo_skill/build/demo_skill.so"
[plugins.task_done]
path = "$bin/plugins/task_done.so"
[model_providers.script]
type = "scripted"
script = "turns.jsonl"
[models.m]
provider = "script"
[agents.default]
model = "m"
tools = ["demo_tool", "task_done"]
skills = ["demo_skill"]
TOML
"$agentd" validate-config --config "$tmp/agentd.toml"
out="$(cd "$tmp" && "$agentd" run --config "$tmp/agentd.toml" -t "$tmp/trajectory.json" "use the tool" 2>&1)"
echo "$out"
grep -q '"tool":"demo_tool","call":1,"arguments":{"text":"hi"}' <<<"$out" || fail "the tool did not answer"
grep -q "^completed" <<<"$out" || fail "the task did not complete"
grep -q "demo_skill: When to use this skill" "$tmp/trajectory.json" || fail "the skill is not offered"

# Refusals.
if "$root/scripts/new-plugin.sh" Bad-Name --kind tool --dir "$tmp" 2>/dev/null; then fail "accepted Bad-Name"; fi
if "$root/scripts/new-plugin.sh" x --kind mcp --dir "$tmp" 2>/dev/null; then fail "accepted --kind mcp"; fi
if "$root/scripts/new-plugin.sh" demo_tool --kind tool --dir "$tmp" 2>/dev/null; then
  fail "overwrote an existing directory"
fi
echo "new-plugin: ok"
