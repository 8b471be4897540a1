#!/usr/bin/env python3
"""Whole-system benchmarks of `agentd serve` for scripts/bench.sh, each beside a reference
measured in the same run:

  concurrency  1,000 tasks POSTed at once (tests/bench/task_burst.cc), each 2 model requests
               (x-fake-tool-turns: 1) answered after 50 ms (x-fake-latency-ms: 50): time from
               the first POST to the last task's end, fraction of the ideal (2 x 50 ms), agentd's
               VmHWM and peak thread count. Reference: one thread driving a bare libcurl multi
               handle through the same 1,000 two-request conversations (agentd's captured
               bodies). Against the Python fake model server and against the native one
               (tests/bench/fake_model_native.cc), since the Python one is the bottleneck.
  startup      process start to the first /readyz 200 of `agentd serve` on config/agentd.toml
               with the first-party plugins (AGENTD_PLUGIN_DIR), --listen and metrics on port 0;
               beside the same without plugins, a minimal Beast server, and Node services that
               import a peer framework and answer /readyz (tests/bench/peers/ready_server.mjs).
  reload       config edits (rename over agentd.toml) while tasks run: edit to applied (the
               "configuration reloaded" log line carrying the new file's SHA-256), p50 and p99;
               then plugin hot swaps under load: [plugins.good] path switched between
               good_cpp.so and good_cpp_v2.so while tasks call its tool `version`; every tool
               result is checked (failed calls must be 0).

Usage: bench_system.py BUILD_DIR OUT_JSON [--peers DIR] [--only concurrency,startup,reload]
        [--tasks 1000] [--rounds 3] [--startup-runs 20] [--edits 100] [--swaps 40]
Binds 127.0.0.1 only; every process started here is stopped by its PID; every wait is bounded.
"""
import argparse
import datetime
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_agent import attempts, noop_agent_config, start_fake_server, stop  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start(cmd, pattern, env=None, timeout=30, cwd=None):
    """Starts cmd and reads stderr until pattern; returns (process, match, spawn time)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                         env=env, cwd=cwd)
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        m = re.search(pattern, line)
        if m:
            return p, m, t0
    stop(p)
    raise SystemExit(f"{cmd[0]} did not start")


def drain(p, on_line=None):
    """Reads the rest of p's stderr in a thread (so the pipe never fills)."""
    def run():
        for line in p.stderr:
            if on_line:
                on_line(line)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def serve_cmd(build, config):
    return [os.path.join(build, "bin/agentd"), "serve", "--config", config, "--listen",
            "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"]


API_RE = r'"api":"(127\.0\.0\.1:\d+)"'


# ---------------------------------------------------------------------------- concurrency

def burst_config(path, build, tmp, tasks):
    with open(path, "w") as f:
        f.write(noop_agent_config(
            build, tmp, "${BENCH_MODEL_URL}",
            '"x-fake-key" = "${BENCH_FAKE_KEY:-burst}", "x-fake-tool-turns" = "1", '
            '"x-fake-latency-ms" = "50"', 5,
            server=f"[server]\nmax_concurrent_tasks = {tasks}\nmax_queued_tasks = {2 * tasks}\n"
                   "shutdown_grace_seconds = 1\n",
            agent_extra=f"concurrency = {tasks}\n"))


def agentd_burst(build, config, model_url, tasks, key="burst"):
    env = dict(os.environ, BENCH_MODEL_URL=model_url, BENCH_FAKE_KEY=key, LOG_LEVEL="info")
    p, m, _ = start(serve_cmd(build, config), API_RE, env=env)
    drain(p)
    try:
        out = subprocess.run([os.path.join(build, "bench/task_burst"), "agentd", m.group(1),
                              str(tasks), json.dumps({"task": "run the steps"}), str(p.pid)],
                             capture_output=True, text=True, timeout=600)
    finally:
        stop(p)
    if not out.stdout.strip():
        raise SystemExit(f"task_burst agentd failed: {out.stderr}")
    return json.loads(out.stdout)


def raw_burst(build, url, tasks, bodies):
    out = subprocess.run([os.path.join(build, "bench/task_burst"), "raw", url, str(tasks), bodies,
                          "Authorization: Bearer k", "x-fake-tool-turns: 1",
                          "x-fake-latency-ms: 50"],
                         capture_output=True, text=True, timeout=600)
    if not out.stdout.strip():
        raise SystemExit(f"task_burst raw failed: {out.stderr}")
    return json.loads(out.stdout)


def concurrency(build, tmp, tasks, rounds):
    config = os.path.join(tmp, "burst.toml")
    burst_config(config, build, tmp, tasks)
    py, py_port = start_fake_server(ROOT)
    native, m, _ = start([os.path.join(build, "bench/fake_model_native"), "--parent-pid",
                          str(os.getpid())], r"listening on 127\.0\.0\.1:(\d+)")
    native_port = int(m.group(1))
    result = {"tasks": tasks, "latency_ms": 50, "rounds": rounds}
    try:
        # One task through agentd captures the two request bodies the reference replays.
        agentd_burst(build, config, f"http://127.0.0.1:{py_port}/v1", 1, key="burst-capture")
        bodies = os.path.join(tmp, "burst-bodies.json")
        captured = attempts(py_port, "burst-capture")["bodies"]
        with open(bodies, "w") as f:
            json.dump(captured, f)
        result["steps"] = len(captured)
        result["ideal_ms"] = len(captured) * 50
        for name, port in (("python", py_port), ("native", native_port)):
            base = f"http://127.0.0.1:{port}/v1"
            raws, ours = [], []
            for _ in range(rounds):
                raws.append(raw_burst(build, base + "/chat/completions", tasks, bodies))
                ours.append(agentd_burst(build, config, base, tasks))
            stats = json.load(urllib.request.urlopen(
                f"http://127.0.0.1:{port}/_control/stats", timeout=10))
            result[name] = {"raw": raws, "agentd": ours, "server_stats": stats}
    finally:
        stop(native)
        stop(py)
    for name in ("python", "native"):
        r = result[name]
        r["raw_completion_ms"] = statistics.median(x["completion_ms"] for x in r["raw"])
        r["agentd_completion_ms"] = statistics.median(x["completion_ms"] for x in r["agentd"])
        r["agentd_submit_ms"] = statistics.median(x["submit_ms"] for x in r["agentd"])
        r["agentd_peak_threads"] = max(x["peak_threads"] for x in r["agentd"])
        r["agentd_vmhwm_mib"] = max(x["vmhwm_kib"] for x in r["agentd"]) / 1024
        r["agentd_rss_before_mib"] = max(x["rss_before_kib"] for x in r["agentd"]) / 1024
        r["agentd_completed"] = min(x["completed"] for x in r["agentd"])
        r["raw_errors"] = sum(x["errors"] for x in r["raw"])
        r["raw_vmhwm_mib"] = max(x["vmhwm_kib"] for x in r["raw"]) / 1024
    return result


# ---------------------------------------------------------------------------- start-up

def get_status(host, port, path, timeout=2.0):
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        head = s.recv(64)
    return int(head.split()[1]) if head.startswith(b"HTTP/1.1 ") else 0


def time_to_ready(cmd, pattern, env=None, cwd=None, timeout=30):
    """Process start to the first /readyz 200, polled as soon as the port is known."""
    p, m, t0 = start(cmd, pattern, env=env, cwd=cwd, timeout=timeout)
    drain(p)
    host, port = m.group(1).rsplit(":", 1)
    try:
        while time.monotonic() - t0 < timeout:
            try:
                if get_status(host, int(port), "/readyz") == 200:
                    return (time.monotonic() - t0) * 1000
            except OSError:
                pass
            time.sleep(0.0002)
        raise SystemExit(f"{cmd[0]}: /readyz not 200 within {timeout} s")
    finally:
        stop(p)


def startup(build, tmp, runs, peers_dir):
    env = dict(os.environ, AGENTD_PLUGIN_DIR=os.path.join(build, "plugins"),
               AGENTD_WORKSPACE=os.path.join(tmp, "ws"), LOG_LEVEL="info")
    bare = os.path.join(tmp, "startup-bare")
    os.makedirs(bare, exist_ok=True)
    with open(os.path.join(bare, "turns.jsonl"), "w") as f:
        f.write('{"text": "hi"}\n')
    with open(os.path.join(bare, "agentd.toml"), "w") as f:
        f.write('[model_providers.s]\ntype = "scripted"\nscript = "turns.jsonl"\n'
                '[models.s]\nprovider = "s"\n[agents.default]\nmodel = "s"\n')
    cases = [
        ("agentd", serve_cmd(build, os.path.join(ROOT, "config/agentd.toml")), API_RE, None),
        ("agentd_no_plugins", serve_cmd(build, os.path.join(bare, "agentd.toml")), API_RE, None),
        ("beast", [os.path.join(build, "bench/beast_baseline")],
         r"listening on (127\.0\.0\.1:\d+)", None),
    ]
    node = os.path.join(peers_dir, "node_modules/.bin/node") if peers_dir else ""
    if node and os.path.exists(node):
        for peer in ("openai_agents", "ai"):
            cases.append((f"node_{peer}", [node, "ready_server.mjs", peer],
                          r"listening on (127\.0\.0\.1:\d+)", peers_dir))
    times = {name: [] for name, *_ in cases}
    for _ in range(runs):  # interleaved
        for name, cmd, pattern, cwd in cases:
            times[name].append(time_to_ready(cmd, pattern, env=env, cwd=cwd))
    plugins = sorted(f for f in os.listdir(os.path.join(build, "plugins")) if f.endswith(".so"))
    size = sum(os.path.getsize(os.path.join(build, "plugins", f)) for f in plugins)
    return {"runs": runs, "plugins": plugins, "plugins_bytes": size,
            "median_ms": {k: statistics.median(v) for k, v in times.items()},
            "min_ms": {k: min(v) for k, v in times.items()}}


# ---------------------------------------------------------------------------- reload under load

def reload_config_text(build, tmp, port, max_steps, variant):
    lib = "good_cpp.so" if variant == 1 else "good_cpp_v2.so"
    return f"""[server]
max_concurrent_tasks = 64
shutdown_grace_seconds = 1
[logging]
level = "info"
[reload]
watch = true
debounce_ms = 50
poll_interval_seconds = 0
[plugins.good]
path = "{build}/tests/fixtures/plugins/{lib}"
[model_providers.fake]
type = "openai"
base_url = "http://127.0.0.1:{port}/v1"
api_key = "k"
headers = {{ "x-fake-tool-turns" = "20" }}
[models.m]
provider = "fake"
model = "fake-model"
[agents.default]
model = "m"
max_steps = {max_steps}
tools = ["version"]
concurrency = 64
working_dir = "{tmp}/ws"
"""


class Load:
    """Client threads, each running tasks one after another (20 `version` calls each) and
    reading every tool result from the task's SSE stream."""

    def __init__(self, api, threads):
        self.host, self.port = api.split(":")
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.calls = {"ok": 0, "failed": 0}
        self.answers = {}
        self.tasks = {"completed": 0, "failed": 0, "rejected": 0}
        self.failures = []
        self.workers = [threading.Thread(target=self.worker, daemon=True) for _ in range(threads)]
        for w in self.workers:
            w.start()

    def one(self):
        c = http.client.HTTPConnection(self.host, int(self.port), timeout=60)
        try:
            c.request("POST", "/api/run", body=b'{"task":"call version"}',
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            body = r.read()
            if r.status != 202:
                with self.lock:
                    self.tasks["rejected"] += 1
                    self.failures.append(f"POST /api/run {r.status} {body[:200]!r}")
                time.sleep(0.01)
                return
            task = json.loads(body)["task_id"]
            c.request("GET", f"/api/tasks/{task}/stream")
            r = c.getresponse()
            event = None
            while True:
                line = r.readline()
                if not line:
                    break
                line = line.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    data = json.loads(line.split(":", 1)[1])["data"]
                    with self.lock:
                        if event == "tool_result":
                            ok = data.get("success") and data.get("result") in ("v1", "v2")
                            self.calls["ok" if ok else "failed"] += 1
                            key = data.get("result") if ok else "failed"
                            self.answers[key] = self.answers.get(key, 0) + 1
                            if not ok:
                                self.failures.append(json.dumps(data)[:300])
                        elif event == "complete":
                            self.tasks["completed"] += 1
                        elif event == "error":
                            self.tasks["failed"] += 1
                            self.failures.append(json.dumps(data)[:300])
                    if event == "end":
                        break
        finally:
            c.close()

    def worker(self):
        while not self.stop.is_set():
            try:
                self.one()
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.failures.append(f"client: {e}")
                time.sleep(0.01)

    def finish(self):
        self.stop.set()
        for w in self.workers:
            w.join(timeout=120)


def reload_under_load(build, tmp, edits, swaps, threads=8):
    d = os.path.join(tmp, "reload")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "agentd.toml")
    server, port = start_fake_server(ROOT)
    applied = []  # wall-clock times of the "configuration reloaded" log lines, in order
    cond = threading.Condition()

    def on_line(line):
        try:
            rec = json.loads(line)
        except ValueError:
            return
        if rec.get("msg") == "configuration reloaded":
            ts = datetime.datetime.strptime(rec["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            with cond:
                applied.append(ts)
                cond.notify_all()

    def edit(text):
        """Publishes text the way editors and the kubelet do (write a copy, rename it over the
        file); returns ms from the rename to the next "configuration reloaded" line. Edits are
        sequential and each changes the effective configuration, so the next line is its."""
        tmp_path = path + ".tmp"
        with open(tmp_path, "w") as f:
            f.write(text)
        with cond:
            seen = len(applied)
        t0 = time.time()
        os.rename(tmp_path, path)
        with cond:
            if not cond.wait_for(lambda: len(applied) > seen, timeout=10):
                raise SystemExit("an edit was not applied within 10 s")
            return (applied[seen] - t0) * 1000

    with open(path, "w") as f:
        f.write(reload_config_text(build, tmp, port, 100, 1))
    agentd, m, _ = start(serve_cmd(build, path), API_RE, env=dict(os.environ, LOG_LEVEL="info"))
    drain(agentd, on_line)
    result = {"threads": threads}
    try:
        load = Load(m.group(1), threads)
        load_start = time.monotonic()
        time.sleep(1.0)
        edit_ms = []
        for i in range(edits):
            edit_ms.append(edit(reload_config_text(build, tmp, port, 101 + i, 1)))
            time.sleep(0.02)
        swap_ms = []
        for i in range(swaps):
            swap_ms.append(edit(reload_config_text(build, tmp, port, 101 + edits,
                                                   2 if i % 2 == 0 else 1)))
            time.sleep(0.1)
        time.sleep(0.5)
        load.finish()
        result.update({
            "load_seconds": time.monotonic() - load_start,
            "edits": edits, "edit_p50_ms": pct(edit_ms, 0.5), "edit_p99_ms": pct(edit_ms, 0.99),
            "edit_max_ms": max(edit_ms),
            "swaps": swaps, "swap_p50_ms": pct(swap_ms, 0.5), "swap_p99_ms": pct(swap_ms, 0.99),
            "swap_max_ms": max(swap_ms),
            "tool_calls_ok": load.calls["ok"], "tool_calls_failed": load.calls["failed"],
            "answers": load.answers, "tasks": load.tasks, "failures": load.failures[:20],
            "model_requests": json.load(urllib.request.urlopen(
                f"http://127.0.0.1:{port}/_control/stats", timeout=10))["requests"],
        })
    finally:
        stop(agentd)
        stop(server)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("out")
    ap.add_argument("--peers", default="")
    ap.add_argument("--only", default="concurrency,startup,reload")
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--startup-runs", type=int, default=20)
    ap.add_argument("--edits", type=int, default=100)
    ap.add_argument("--swaps", type=int, default=40)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    peers = os.path.abspath(args.peers) if args.peers else ""
    tmp = tempfile.mkdtemp(prefix="agentd-bench-system-")
    only = set(args.only.split(","))
    out = {}
    if os.path.exists(args.out):
        with open(args.out) as f:
            out = json.load(f)  # sections not rerun keep their last figures
    if "startup" in only:
        out["startup"] = startup(build, tmp, args.startup_runs, peers)
    if "concurrency" in only:
        out["concurrency"] = concurrency(build, tmp, args.tasks, args.rounds)
    if "reload" in only:
        out["reload"] = reload_under_load(build, tmp, args.edits, args.swaps)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out)[:4000])


if __name__ == "__main__":
    main()
