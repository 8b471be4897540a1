#!/usr/bin/env python3
"""Serving benchmarks for scripts/bench.sh: /livez requests/s under wrk beside a minimal Beast
server (the floor), and agentd's memory with 10,000 open SSE streams.

Usage: bench_server.py BUILD_DIR OUT_JSON. Everything binds 127.0.0.1; every process started
here is stopped by its PID; every wait is bounded.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request


def start(cmd, pattern, env=None, timeout=30):
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                         env=env)
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        m = re.search(pattern, line)
        if m:
            return p, m
    p.kill()
    raise SystemExit(f"{cmd[0]} did not start")


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wrk(url, seconds=10):
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}
    return rps, float(p99.group(1)) * scale[p99.group(2)] if p99 else None


def main():
    build, out_path = os.path.abspath(sys.argv[1]), sys.argv[2]
    fixtures = os.path.join(build, "tests/fixtures/plugins")
    tmp = tempfile.mkdtemp(prefix="agentd-bench-server-")
    with open(os.path.join(tmp, "turns.jsonl"), "w") as f:
        f.write(json.dumps({"tool_calls": [{"id": "s", "name": "sleep",
                                            "arguments": {"ms": 600000, "honor_cancel": True}}]})
                + "\n")
    with open(os.path.join(tmp, "agentd.toml"), "w") as f:
        f.write(f"""[server]
shutdown_grace_seconds = 1
[metrics]
listen = "127.0.0.1:0"
[logging]
level = "warn"
[plugins.sleeper]
path = "{fixtures}/sleeper.so"
[model_providers.script]
type = "scripted"
script = "turns.jsonl"
[models.m]
provider = "script"
[agents.default]
model = "m"
tools = ["sleep"]
""")
    env = dict(os.environ, LOG_LEVEL="info")
    agentd, m = start([os.path.join(build, "bin/agentd"), "serve", "--config",
                       os.path.join(tmp, "agentd.toml"), "--listen", "127.0.0.1:0"],
                      r'"api":"(127\.0\.0\.1:\d+)"', env=env)
    api = m.group(1)
    result = {}
    try:
        rps, p99 = wrk(f"http://{api}/livez")
        result["agentd_livez_rps"] = rps
        result["agentd_livez_p99_ms"] = p99
        base, m2 = start([os.path.join(build, "bench/beast_baseline")],
                         r"listening on (127\.0\.0\.1:\d+)")
        try:
            brps, bp99 = wrk(f"http://{m2.group(1)}/livez")
        finally:
            stop(base)
        result["beast_livez_rps"] = brps
        result["beast_livez_p99_ms"] = bp99

        req = urllib.request.Request(f"http://{api}/api/run", data=b'{"task":"hold"}',
                                     method="POST")
        task = json.load(urllib.request.urlopen(req, timeout=10))["task_id"]
        host, port = api.split(":")
        sse = subprocess.run([os.path.join(build, "bench/sse_load"), host, port,
                              f"/api/tasks/{task}/stream", "10000", str(agentd.pid)],
                             capture_output=True, text=True, timeout=180)
        result["sse"] = json.loads(sse.stdout)
    finally:
        stop(agentd)
    with open(out_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
