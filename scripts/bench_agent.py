#!/usr/bin/env python3
"""Agent loop benchmark for scripts/bench.sh: a 10-step task against the fake model server, run
by `agentd run` (whole process: per-step overhead, peak RSS, start-up) beside a bare libcurl loop
posting the exact same request bodies (captured from an agentd run) in the same order.

Usage: bench_agent.py BUILD_DIR OUT_JSON [RUNS]. Binds 127.0.0.1 only; stops what it starts.
"""
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

STEPS = 10


def start_fake_server(root):
    p = subprocess.Popen([sys.executable, os.path.join(root, "tests/support/fake_model_server.py"),
                          "--port", "0", "--parent-pid", str(os.getpid())],
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", p.stderr.readline())
        if m:
            return p, int(m.group(1))
    p.kill()
    raise SystemExit("fake model server did not start")


def run_agentd(build, config, tmp, i):
    traj = os.path.join(tmp, f"t{i}.json")
    t0 = time.perf_counter()
    p = subprocess.Popen([os.path.join(build, "bin/agentd"), "run", "run the steps", "--config",
                          config, "--trajectory-file", traj],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    wall = (time.perf_counter() - t0) * 1000
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("agentd run failed")
    with open(traj) as f:
        t = json.load(f)
    steps = len(t["agent_steps"])
    return {"wall_ms": wall, "loop_ms": t["execution_time"] * 1000, "steps": steps,
            "maxrss_kib": usage.ru_maxrss}


def main():
    build, out = os.path.abspath(sys.argv[1]), sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tmp = tempfile.mkdtemp(prefix="agentd-bench-agent-")
    server, port = start_fake_server(root)
    try:
        config = os.path.join(tmp, "agentd.toml")
        with open(config, "w") as f:
            f.write(f"""[logging]
level = "warn"
[reload]
watch = false
poll_interval_seconds = 0
[plugins.good]
path = "{build}/tests/fixtures/plugins/good_cpp.so"
[model_providers.fake]
type = "openai"
base_url = "http://127.0.0.1:{port}/v1"
api_key = "k"
headers = {{ "x-fake-tool-turns" = "{STEPS}" }}
[models.m]
provider = "fake"
model = "fake-model"
[agents.default]
model = "m"
max_steps = {STEPS + 5}
tools = ["noop"]
working_dir = "{tmp}/ws"
""")
        # One run with its own key captures the exact request bodies agentd sends.
        with open(config) as f:
            text = f.read()
        capture = text.replace('"x-fake-tool-turns"', '"x-fake-key" = "capture", "x-fake-tool-turns"')
        capture_config = os.path.join(tmp, "capture.toml")
        with open(capture_config, "w") as f:
            f.write(capture)
        run_agentd(build, capture_config, tmp, "capture")
        attempts = json.load(urllib.request.urlopen(
            f"http://127.0.0.1:{port}/_control/attempts?key=capture", timeout=10))
        bodies_path = os.path.join(tmp, "bodies.json")
        with open(bodies_path, "w") as f:
            json.dump(attempts["bodies"], f)
        raw_cmd = [os.path.join(build, "bench/raw_agent_loop"),
                   f"http://127.0.0.1:{port}/v1/chat/completions", bodies_path, "3",
                   "Authorization: Bearer k", f"x-fake-tool-turns: {STEPS}"]
        # Interleaved, so both see the same server and the same machine noise.
        agentd, raw_ms = [], []
        for i in range(runs):
            agentd.append(run_agentd(build, config, tmp, i))
            raw = json.loads(subprocess.run(raw_cmd, capture_output=True, text=True,
                                            timeout=600).stdout)
            raw_ms.append(raw["median_ms"])
    finally:
        server.kill()
        server.wait()
    steps = agentd[0]["steps"]
    loop = statistics.median(r["loop_ms"] for r in agentd)
    wall = statistics.median(r["wall_ms"] for r in agentd)
    result = {
        "steps": steps,
        "runs": runs,
        "agentd_loop_ms": loop,
        "agentd_wall_ms": wall,
        "agentd_startup_and_exit_ms": wall - loop,
        "raw_ms": statistics.median(raw_ms),
        "overhead_per_step_ms": (loop - statistics.median(raw_ms)) / steps,
        "agentd_peak_rss_mib": max(r["maxrss_kib"] for r in agentd) / 1024,
    }
    with open(out, "w") as f:
        json.dump(result, f)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
