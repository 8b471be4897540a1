#!/usr/bin/env bash
# Installs what is missing, builds, runs the benchmarks (bounded in time, 127.0.0.1 only) and
# rewrites the generated tables in BENCHMARKS.md with the date, the machine and the figures.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# With AGENTD_BUILD_LOCK=FILE every configure and build holds flock(FILE), for machines where
# several people build in one tree while the benchmarks run.
if [ -n "${AGENTD_BUILD_LOCK:-}" ]; then
  eval "unlocked_$(declare -f build)"
  build() { (flock 9 && unlocked_build "$@") 9>"$AGENTD_BUILD_LOCK"; }
fi
install_packages "${AGENTD_BUILD_PKGS[@]}" python3
build plugin_call_bench
out="$BUILD_DIR/bench"
mkdir -p "$out"

# Plugin ABI: a tool call through the ABI against a direct virtual call doing the same JSON work.
timeout 600 "$out/plugin_call_bench" --benchmark_min_time=1 --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true --benchmark_format=json \
  --benchmark_out="$out/plugin_call.json" --benchmark_out_format=json >/dev/null

# Configuration reload: edit-to-applied latency over 200 edits with the default debounce.
build reload_latency_bench
timeout 300 "$out/reload_latency_bench" 200 > "$out/reload_latency.json"

# Model client: per-request overhead against a raw libcurl easy loop on the same fake model
# server, and 1,000 concurrent calls against a server answering after 50 ms (each mode in its
# own process, so peak RSS is its own).
build llm_overhead_bench llm_concurrency_bench
timeout 600 "$out/llm_overhead_bench" --benchmark_min_time=1 --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true --benchmark_format=json \
  --benchmark_enable_random_interleaving=true \
  --benchmark_out="$out/llm_overhead.json" --benchmark_out_format=json >/dev/null 2>&1
timeout 300 "$out/llm_concurrency_bench" --mode=raw --calls=1000 --latency-ms=50 --rounds=7 \
  > "$out/llm_concurrency_raw.json" 2>/dev/null
timeout 300 "$out/llm_concurrency_bench" --mode=client --calls=1000 --latency-ms=50 --rounds=7 \
  > "$out/llm_concurrency_client.json" 2>/dev/null
timeout 300 "$out/llm_concurrency_bench" --mode=client --stream=1 --calls=1000 --latency-ms=50 \
  --rounds=7 > "$out/llm_concurrency_client_stream.json" 2>/dev/null
timeout 300 "$out/llm_concurrency_bench" --mode=client --curl=1 --calls=1000 --latency-ms=50 \
  --rounds=7 > "$out/llm_concurrency_client_curl.json" 2>/dev/null

# Agent loop: a 10-step task against the fake model server run by `agentd run` and by the peer
# frameworks (@openai/agents, the Vercel `ai` SDK, on Node 22 from npm), each beside a bare
# libcurl loop posting its own request bodies; per-step overhead, peak RSS, start-up.
bash "$AGENTD_ROOT/tests/bench/peers/install.sh"
build agentd raw_agent_loop peak_rss agentd_fixture_plugins machine_costs
timeout 120 "$BUILD_DIR/bench/machine_costs" > "$out/machine_costs.json" ||
  { echo "machine_costs failed; its figures are left out" >&2; rm -f "$out/machine_costs.json"; }
timeout 1800 python3 "$AGENTD_ROOT/scripts/bench_agent.py" "$BUILD_DIR" "$out/agent.json" 30 \
  --peers "$AGENTD_ROOT/tests/bench/peers"

# agentd serve as a whole: 1,000 tasks at once against a model answering after 50 ms (beside a
# bare libcurl multi reference), start-up to /readyz with the first-party plugins (beside Node
# services on the peers), config edits and plugin hot swaps while tasks run.
build agentd agentd_fixture_plugins task_burst fake_model_native beast_baseline \
  bash json_edit_tool mcp sequentialthinking skills_dir str_replace_based_edit_tool task_done
rm -f "$out/system.json"
timeout 1200 python3 "$AGENTD_ROOT/scripts/bench_system.py" "$BUILD_DIR" "$out/system.json" \
  --peers "$AGENTD_ROOT/tests/bench/peers"

# Serving: /livez requests/s under wrk beside a minimal Beast server (the floor), and agentd's
# memory with 10,000 SSE streams open.
install_packages wrk
build agentd beast_baseline sse_load agentd_fixture_plugins
timeout 900 python3 "$AGENTD_ROOT/scripts/bench_server.py" "$BUILD_DIR" "$out/server.json"

# MCP: tools/call over stdio against server-everything's echo, agentd's client and the official
# TypeScript SDK client taking turns, 3 rounds of 5,000 sequential calls each.
bash "$AGENTD_ROOT/tests/mcp/install.sh"
build mcp_call_bench
: > "$out/mcp_call_agentd.jsonl"
: > "$out/mcp_call_typescript.jsonl"
for _ in 1 2 3; do
  timeout 300 "$out/mcp_call_bench" --calls 5000 --warmup 500 >> "$out/mcp_call_agentd.jsonl"
  (cd "$AGENTD_ROOT/tests/mcp" && timeout 300 node_modules/.bin/node bench_client.mjs 5000 500) \
    >> "$out/mcp_call_typescript.jsonl"
done

# When the runs ended, and the load average then (other work on the machine skews the figures).
python3 -c 'import datetime, json, sys
print(json.dumps({"ended": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                  "loadavg": open("/proc/loadavg").read().split()[:3]}))' > "$out/run.json"
python3 "$AGENTD_ROOT/scripts/bench_report.py" "$AGENTD_ROOT/BENCHMARKS.md" "$out"
echo "BENCHMARKS.md updated from $out"
