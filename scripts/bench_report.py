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
    with open(doc, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
