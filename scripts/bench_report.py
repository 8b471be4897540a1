#!/usr/bin/env python3
"""Rewrites the generated sections of BENCHMARKS.md from the JSON the benchmarks wrote.

Usage: bench_report.py BENCHMARKS.md BENCH_OUTPUT_DIR
A generated section sits between `<!-- generated:NAME -->` and `<!-- end:NAME -->`.
"""
import datetime
import json
import os
import platform
import re
import sys


def machine():
    cores = os.cpu_count()
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / 1024 / 1024
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{cores} cores ({model}), {mem:.0f} GiB, Linux {platform.release()}"


def medians(path):
    with open(path) as f:
        data = json.load(f)
    out = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") == "median":
            out[b["run_name"]] = b["real_time"] if b["time_unit"] == "ns" else None
    return out


def plugin_table(out_dir):
    m = medians(os.path.join(out_dir, "plugin_call.json"))
    rows = [
        ("no-op", "BM_DirectVirtual_Noop", "BM_PluginAbi_Noop/threads:1"),
        ("echo: parse JSON args, return text", "BM_DirectVirtual_EchoJson",
         "BM_PluginAbi_EchoJson"),
    ]
    lines = ["| call | direct virtual call (ns) | through the ABI (ns) | ratio | goal |",
             "|---|---|---|---|---|"]
    for label, direct, abi in rows:
        d, a = m[direct], m[abi]
        goal = "<= 1000 ns and <= 3x" if "echo" in label else "(overhead only)"
        met = ""
        if "echo" in label:
            met = " met" if a <= 1000 and a / d <= 3 else " **missed**"
        lines.append(f"| {label} | {d:.1f} | {a:.1f} | {a / d:.2f}x | {goal}{met} |")
    two = m.get("BM_PluginAbi_Noop/threads:2")
    runner = m.get("BM_ToolRunner_EchoJson")
    if two:
        lines.append(f"| no-op, 2 threads at once | | {two:.1f} | | |")
    if runner:
        lines.append(f"| echo via the tool pool with timeout | | {runner:.1f} | | |")
    return "\n".join(lines)


def reload_table(out_dir):
    with open(os.path.join(out_dir, "reload_latency.json")) as f:
        r = json.load(f)
    met = "met" if r["p99_ms"] <= 100 else "**missed**"
    return "\n".join([
        "| edits | debounce | p50 | p99 | max | goal (p99 <= 100 ms) |",
        "|---|---|---|---|---|---|",
        f"| {r['edits']} | {r['debounce_ms']} ms | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms "
        f"| {r['max_ms']:.1f} ms | {met} |",
    ])


def agent_table(out_dir):
    path = os.path.join(out_dir, "agent.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        r = json.load(f)
    step_met = "met" if r["overhead_per_step_ms"] <= 0.1 else "**missed**"
    rss_met = "met" if r["agentd_peak_rss_mib"] <= 20 else "**missed**"
    return "\n".join([
        "| measure | agentd | bare libcurl loop, same bodies | goal |",
        "|---|---|---|---|",
        f"| one {r['steps']}-request task, loop time (median of {r['runs']}) | "
        f"{r['agentd_loop_ms']:.2f} ms | {r['raw_ms']:.2f} ms | |",
        f"| overhead per step | {r['overhead_per_step_ms']:.3f} ms | 0 (the floor) | "
        f"<= 0.1 ms {step_met} |",
        f"| peak RSS of `agentd run` | {r['agentd_peak_rss_mib']:.1f} MiB | | <= 20 MiB {rss_met} |",
        f"| process start-up and exit around the loop | {r['agentd_startup_and_exit_ms']:.1f} ms | "
        "| |",
    ])


def server_table(out_dir):
    path = os.path.join(out_dir, "server.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        r = json.load(f)
    sse = r["sse"]
    total_mib = sse["rss_with_streams_kib"] / 1024
    met = "met" if total_mib <= 200 and sse["answered"] == sse["streams"] else "**missed**"
    ratio = r["agentd_livez_rps"] / r["beast_livez_rps"]
    return "\n".join([
        "| measure | agentd | minimal Beast server | ratio |",
        "|---|---|---|---|",
        f"| `/livez` requests/s (wrk -t2 -c64, 10 s) | {r['agentd_livez_rps']:,.0f} | "
        f"{r['beast_livez_rps']:,.0f} | {ratio:.2f} |",
        f"| `/livez` p99 latency | {r['agentd_livez_p99_ms']:.2f} ms | "
        f"{r['beast_livez_p99_ms']:.2f} ms | |",
        "",
        "| SSE streams open | answered | RSS before | RSS with streams | per stream | agentd threads "
        "| goal (<= 200 MiB) |",
        "|---|---|---|---|---|---|---|",
        f"| {sse['streams']:,} | {sse['answered']:,} | {sse['rss_before_kib'] / 1024:.1f} MiB | "
        f"{total_mib:.1f} MiB | {sse['per_stream_bytes'] / 1024:.1f} KiB | {sse['threads']} | {met} |",
    ])


def replace(text, name, body):
    pattern = re.compile(rf"(<!-- generated:{name} -->\n).*?(<!-- end:{name} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"BENCHMARKS.md has no generated:{name} section")
    return pattern.sub(lambda mo: mo.group(1) + body + "\n" + mo.group(2), text)


def main():
    doc, out_dir = sys.argv[1], sys.argv[2]
    with open(doc) as f:
        text = f.read()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = replace(text, "machine", f"Measured {stamp} on {machine()}.")
    text = replace(text, "plugin_call", plugin_table(out_dir))
    text = replace(text, "reload_latency", reload_table(out_dir))
    agent = agent_table(out_dir)
    if agent is not None:
        text = replace(text, "agent", agent)
    server = server_table(out_dir)
    if server is not None:
        text = replace(text, "server", server)
    with open(doc, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()


# ---------------------------------------------------------------------------- model client
# The llm sections. This block runs after main() above and re-reads the document; it skips
# silently when the llm benchmarks have not produced their files yet.

def llm_medians(path):
    """run_name -> (real time in µs, cpu_us_per_request) of the median aggregates."""
    scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
    with open(path) as f:
        data = json.load(f)
    out = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") == "median":
            out[b["run_name"]] = (b["real_time"] * scale[b["time_unit"]],
                                  b.get("cpu_us_per_request", 0.0))
    return out


def llm_overhead_table(out_dir):
    m = llm_medians(os.path.join(out_dir, "llm_overhead.json"))
    rows = [
        ("whole response: `LlmClient::chat()`", "BM_RawCurlEasy/0/real_time",
         "BM_LlmClient/0/real_time"),
        ("streamed (SSE): `LlmClient::chat()` with `on_delta`", "BM_RawCurlEasy/1/real_time",
         "BM_LlmClient/1/real_time"),
        ("transport only: `HttpClient` (event thread), no JSON", "BM_RawCurlEasy/0/real_time",
         "BM_HttpClient/real_time"),
    ]
    lines = ["| request | raw libcurl easy (µs) | agentd (µs) | overhead (µs) | ratio "
             "| client CPU raw (µs) | client CPU agentd (µs) |",
             "|---|---|---|---|---|---|---|"]
    for label, raw, ours in rows:
        (rt, rc), (ot, oc) = m[raw], m[ours]
        lines.append(f"| {label} | {rt:.1f} | {ot:.1f} | {ot - rt:+.1f} | {ot / rt:.2f}x "
                     f"| {rc:.1f} | {oc:.1f} |")
    return "\n".join(lines)


def llm_concurrency_table(out_dir):
    rows = [("raw libcurl multi, one thread (baseline)", "llm_concurrency_raw.json"),
            ("agentd `LlmClient::chatAsync`, whole responses", "llm_concurrency_client.json"),
            ("agentd `LlmClient::chatAsync`, streamed", "llm_concurrency_client_stream.json")]
    lines = ["| client | calls at once | server latency | median wall time | throughput "
             "| first round (new connections) | peak threads | peak RSS | RSS before | errors |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for label, name in rows:
        with open(os.path.join(out_dir, name)) as f:
            r = json.load(f)
        lines.append(
            f"| {label} | {r['calls']} | {r['latency_ms']} ms | {r['median_seconds'] * 1000:.0f} ms "
            f"| {r['throughput_rps']:.0f} req/s | {r['rounds'][0] * 1000:.0f} ms "
            f"| {r['peak_threads']} | {r['peak_rss_kib'] / 1024:.1f} MiB "
            f"| {r['rss_before_kib'] / 1024:.1f} MiB | {r['errors']} |")
    return "\n".join(lines)


def llm_report(doc, out_dir):
    needed = ["llm_overhead.json", "llm_concurrency_raw.json", "llm_concurrency_client.json",
              "llm_concurrency_client_stream.json"]
    if not all(os.path.exists(os.path.join(out_dir, n)) for n in needed):
        return
    with open(doc) as f:
        text = f.read()
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    note = (f"Measured {stamp} on {os.cpu_count()} cores; load average {', '.join(load)} "
            "(1, 5, 15 min) when the runs ended.\n\n")
    text = replace(text, "llm_overhead", note + llm_overhead_table(out_dir))
    text = replace(text, "llm_concurrency", note + llm_concurrency_table(out_dir))
    with open(doc, "w") as f:
        f.write(text)


if __name__ == "__main__":
    llm_report(sys.argv[1], sys.argv[2])


# ---------------------------------------------------------------------------- MCP client
# The mcp section: tools/call over stdio, agentd's client beside the TypeScript SDK's. Each
# .jsonl holds one JSON object per round; the round with the median calls/s is reported.
# Skips silently when the MCP benchmark has not run.

def mcp_median_round(path):
    with open(path) as f:
        rounds = [json.loads(line) for line in f if line.strip()]
    rounds.sort(key=lambda r: r["calls_per_s"])
    return rounds[len(rounds) // 2], len(rounds)


def mcp_call_table(out_dir):
    ours, n = mcp_median_round(os.path.join(out_dir, "mcp_call_agentd.jsonl"))
    ts, _ = mcp_median_round(os.path.join(out_dir, "mcp_call_typescript.jsonl"))
    met = ("met" if ours["calls_per_s"] >= ts["calls_per_s"] and ours["p50_us"] <= ts["p50_us"]
           else "**missed**")
    sdk = f"TypeScript SDK {ts.get('sdk_version', '')} `Client.callTool`".replace("  ", " ")
    return "\n".join([
        "| client | calls per round | rounds | p50 | p99 | calls/s | goal (>= SDK calls/s, <= SDK p50) |",
        "|---|---|---|---|---|---|---|",
        f"| agentd `mcp::Client::callTool` | {ours['calls']} | {n} | {ours['p50_us']:.0f} µs "
        f"| {ours['p99_us']:.0f} µs | {ours['calls_per_s']:.0f} | {met} |",
        f"| {sdk} | {ts['calls']} | {n} | {ts['p50_us']:.0f} µs | {ts['p99_us']:.0f} µs "
        f"| {ts['calls_per_s']:.0f} | (baseline) |",
        f"| ratio agentd / SDK | | | {ours['p50_us'] / ts['p50_us']:.2f}x "
        f"| {ours['p99_us'] / ts['p99_us']:.2f}x | {ours['calls_per_s'] / ts['calls_per_s']:.2f}x | |",
    ])


def mcp_report(doc, out_dir):
    needed = ["mcp_call_agentd.jsonl", "mcp_call_typescript.jsonl"]
    if not all(os.path.exists(os.path.join(out_dir, n)) for n in needed):
        return
    with open(doc) as f:
        text = f.read()
    text = replace(text, "mcp_call", mcp_call_table(out_dir))
    with open(doc, "w") as f:
        f.write(text)


if __name__ == "__main__":
    mcp_report(sys.argv[1], sys.argv[2])
