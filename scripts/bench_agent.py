#!/usr/bin/env python3
"""Agent loop benchmark for scripts/bench.sh: the same 10-tool-call task against the same fake
model server (OpenAI Chat Completions, x-fake-tool-turns: 10, one tool `noop` returning ""), run
by `agentd run` and by the peer frameworks of tests/bench/peers/ (@openai/agents, the Vercel
`ai` SDK; Node 22), each beside its floor: a bare libcurl loop (tests/bench/raw_agent_loop.cc)
posting that framework's own captured request bodies in the same order. Runs are interleaved
(framework, its floor, next framework, ...) so all see the same server and machine noise.

Per run and framework: loop time (first model request to the final answer, measured inside the
process: agentd's trajectory `execution_time`, the peers' own clock), model requests (counted by
the server per x-fake-key), start-up (process start to the first request arriving at the
server; both clocks are CLOCK_MONOTONIC), whole-process wall time and peak RSS (ru_maxrss,
taken by tests/bench/peak_rss.c: a child started straight from Python would inherit Python's own
high-water mark across exec). Per-step overhead = (loop time - floor) / requests; a process run
for one task opens its connection, so its floor does too, while a warm process's floor reuses
one. That floor runs in a warm process (raw_agent_loop's fresh_median_ms); the floor like for
like is a raw_agent_loop process started for one conversation (--cold, interleaved with the
runs), cold as a process started for one task is, and gives the "like for like" overhead. A
warm figure comes from tasks run one after another inside one long-lived process: for agentd,
`agentd interactive` given the task several times (the tasks after the first count), for the
peers their scripts repeating the task; its floor is the bare loop's conversations on a reused
connection. A warm `agentd serve` is measured too (POST /api/run, a client reading the task's
SSE stream; API tasks stream the model's answer, so its floor replays its own streamed bodies).

Wall time minus server time: the fake server records when it had read each request whole and
when it had written the answer, so each loop's time minus the server's own time for its
requests can be set against its floor's minus theirs; the server's work and its variation drop
out. The same records give the turnaround between two requests of a conversation (answer
written to the next request read), which holds the client's work, the wake-ups and the loopback
transfer only.

agentd's steps are also taken apart: the first step (a fresh process: connection set-up and code
run for the first time) and the median step from the fifth on (from the event log's step_end
durations), against the floor per request on a reused connection. And the floor is run again
with a busy gap between a response and the next request (raw_agent_loop --gap-us), to show what
an agent's own work between requests costs beyond itself on this machine.

Usage: bench_agent.py BUILD_DIR OUT_JSON [RUNS] [--peers DIR] [--warm N]
Without --peers (or when DIR has no node_modules) only agentd runs. Binds 127.0.0.1 only; stops
what it starts, by PID; every wait is bounded.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

STEPS = 10
PEERS = [  # (name in the JSON, script in the peers directory, npm package whose version shows)
    ("openai_agents", "openai_agents.mjs", "@openai/agents"),
    ("ai", "vercel_ai.mjs", "ai"),
]


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
    p.wait()
    raise SystemExit("fake model server did not start")


def stop(p, timeout=20):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def attempts(port, key):
    return json.load(urllib.request.urlopen(
        f"http://127.0.0.1:{port}/_control/attempts?key={key}", timeout=10))


def wait_process(p, timeout=120):
    """A bounded wait: returns the exit code; kills the process when it overruns. The wait
    blocks (a timer does the killing), so this script takes no CPU while the child runs."""
    killer = threading.Timer(timeout, p.kill)
    killer.start()
    try:
        _, status = os.waitpid(p.pid, 0)
    finally:
        killer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode == -signal.SIGKILL:
        raise SystemExit(f"{p.args[0]} did not finish within {timeout} s")
    return p.returncode


def peak_rss_cmd(build, tmp, key, cmd):
    """cmd run under bench/peak_rss (see tests/bench/peak_rss.c), and where it writes the peak."""
    out = os.path.join(tmp, f"rss-{key}.json")
    return [os.path.join(build, "bench/peak_rss"), out] + cmd, out


def read_peak_rss(path):
    with open(path) as f:
        return json.load(f)["maxrss_kib"]


def run_agentd(build, config, tmp, key, port):
    traj = os.path.join(tmp, f"t-{key}.json")
    env = dict(os.environ, BENCH_FAKE_KEY=key)
    cmd, rss_path = peak_rss_cmd(build, tmp, key, [
        os.path.join(build, "bin/agentd"), "run", "run the steps", "--config", config,
        "--trajectory-file", traj])
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    code = wait_process(p)
    wall = (time.monotonic() - t0) * 1000
    if code != 0:
        raise SystemExit("agentd run failed")
    with open(traj) as f:
        t = json.load(f)
    # Each step's own duration, from the event log's step_end events (a step is one model call
    # and the tools it asks for).
    step_ms = []
    with open(traj[:-len(".json")] + ".events.jsonl") as f:
        for line in f:
            e = json.loads(line)
            if e["type"] == "step_end":
                step_ms.append(e["data"]["duration_ms"])
    a = attempts(port, key)
    split = server_split(a, a["attempts"])
    return {"wall_ms": wall, "loop_ms": t["execution_time"] * 1000, "step_ms": step_ms,
            "steps": len(t["agent_steps"]), "requests": a["attempts"],
            "startup_ms": a["arrivals_ms"][0] - t0 * 1000, "maxrss_kib": read_peak_rss(rss_path),
            "server_ms": split["server_ms"][0], "turnaround_us": split["turnaround_us"],
            "server_us": split["server_us"]}


def run_peer(build, tmp, node, script, port, key, warm=0):
    cmd, rss_path = peak_rss_cmd(build, tmp, key, [
        node, script, f"http://127.0.0.1:{port}/v1", key, str(warm)])
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=os.path.dirname(script))
    # The output is one short line, so reading it after the exit cannot block the child.
    code = wait_process(p)
    wall = (time.monotonic() - t0) * 1000
    out, err = p.stdout.read().decode(), p.stderr.read().decode()
    if code != 0:
        raise SystemExit(f"{os.path.basename(script)} failed: {err[-2000:]}")
    r = json.loads(out.strip().splitlines()[-1])
    if not r["text"].startswith("done after"):
        raise SystemExit(f"{os.path.basename(script)}: unexpected answer {r['text']!r}")
    a = attempts(port, key)
    return {"wall_ms": wall, "loop_ms": r["loop_ms"], "requests": a["attempts"],
            "startup_ms": a["arrivals_ms"][0] - t0 * 1000, "maxrss_kib": read_peak_rss(rss_path),
            "warm_loop_ms": r["warm_loop_ms"], "version": r["version"], "node": r["node"]}


def server_split(a, per_conversation):
    """The server's clock on one key's model calls (an /_control/attempts answer), cut into
    conversations of per_conversation requests, in order: the server's own time per conversation
    (server_ms: request read whole to answer written, summed), per request (server_us), and the
    client's turnaround between two requests of a conversation (turnaround_us: answer written to
    the next request read whole, which is the client's work, the wake-ups and the loopback
    transfer, and none of the server's work)."""
    arrivals, done = a["arrivals_ms"], a["done_ms"]
    if not (len(arrivals) == len(done) == a["attempts"]) or None in done \
            or a["attempts"] % per_conversation:
        raise SystemExit(f"the server's records do not cut into conversations of "
                         f"{per_conversation}: {a['attempts']} attempts, {len(done)} ended")
    server = [d - r for r, d in zip(arrivals, done)]
    return {"server_ms": [sum(server[i:i + per_conversation])
                          for i in range(0, len(server), per_conversation)],
            "server_us": [x * 1000 for x in server],
            "turnaround_us": [(arrivals[i] - done[i - 1]) * 1000 for i in range(1, len(done))
                              if i % per_conversation != 0]}


def raw_agent_loop(build, port, bodies_path, reps, gap_us=0, cold=False, key="default"):
    """tests/bench/raw_agent_loop on these bodies: its JSON result."""
    raw = subprocess.run([os.path.join(build, "bench/raw_agent_loop"), "--gap-us", str(gap_us)] +
                         (["--cold"] if cold else []) +
                         [f"http://127.0.0.1:{port}/v1/chat/completions", bodies_path, str(reps),
                          "Authorization: Bearer k", f"x-fake-tool-turns: {STEPS}",
                          f"x-fake-key: {key}"],
                         capture_output=True, text=True, timeout=300)
    if raw.returncode != 0:
        raise SystemExit(f"raw_agent_loop --gap-us {gap_us} failed: {raw.stderr}")
    return json.loads(raw.stdout)


def floor_ms(build, port, bodies_path, reps=3):
    r = raw_agent_loop(build, port, bodies_path, reps)
    return r["fresh_median_ms"], r["median_ms"]


def run_interactive(build, config, tmp, key, port, tasks):
    """`agentd interactive` given the task `tasks` times: one process, tasks one after another,
    nobody watching but the progress printer (the `agentd serve` figure has an SSE client reading
    every event). On the server's clock, for the tasks after the first: each loop's time (its
    trajectory's execution_time) minus the server's, and the turnarounds."""
    cwd = os.path.join(tmp, key)
    os.makedirs(cwd)
    p = subprocess.run([os.path.join(build, "bin/agentd"), "interactive", "--config", config],
                       input="run the steps\n" * tasks + "exit\n", cwd=cwd, text=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120,
                       env=dict(os.environ, BENCH_FAKE_KEY=key))
    if p.returncode != 0:
        raise SystemExit(f"agentd interactive failed: {p.stderr[-2000:]}")
    trajectories = []
    for name in os.listdir(os.path.join(cwd, "trajectories")):
        if name.endswith(".json"):
            with open(os.path.join(cwd, "trajectories", name)) as f:
                trajectories.append(json.load(f))
    trajectories.sort(key=lambda t: t["start_time"])
    if len(trajectories) != tasks:
        raise SystemExit(f"agentd interactive wrote {len(trajectories)} trajectories, not {tasks}")
    a = attempts(port, key)
    requests = a["attempts"] // tasks
    if any(len(t["llm_interactions"]) != requests for t in trajectories):
        raise SystemExit(f"agentd interactive: tasks of unequal length ({a['attempts']} requests)")
    split = server_split(a, requests)
    return {"loop_ms": [t["execution_time"] * 1000 for t in trajectories][1:],
            "client_ms": [t["execution_time"] * 1000 - s
                          for t, s in zip(trajectories, split["server_ms"])][1:],
            "turnaround_us": split["turnaround_us"][requests - 1:]}


def warm_floor_split(build, port, bodies_path, key, reps=3):
    """The floor in a warm process (a connection reused, then one per conversation), on the
    server's clock: each fresh conversation's time minus the server's, and the turnarounds on
    the reused connection."""
    r = raw_agent_loop(build, port, bodies_path, reps, key=key)
    split = server_split(attempts(port, key), r["requests"])
    fresh_server = split["server_ms"][reps:]
    n = r["requests"] - 1  # turnarounds per conversation
    return {"fresh_ms": r["fresh_median_ms"], "reused_ms": r["median_ms"],
            "fresh_client_ms": [f - s for f, s in zip(r["fresh_ms"], fresh_server)],
            "reused_client_ms": [u - s for u, s in zip(r["reused_ms"], split["server_ms"])],
            "reused_turnaround_us": split["turnaround_us"][:reps * n],
            "reused_server_us": split["server_us"][:reps * r["requests"]]}


def cold_floor(build, port, bodies_path, key):
    """The floor as a process started for one conversation: its first work, cold. Its time, and
    on the server's clock its time minus the server's, its turnarounds and the server's times."""
    ms = raw_agent_loop(build, port, bodies_path, 1, cold=True, key=key)["cold_ms"]
    a = attempts(port, key)
    split = server_split(a, a["attempts"])
    return {"ms": ms, "client_ms": ms - split["server_ms"][0],
            "turnaround_us": split["turnaround_us"], "server_us": split["server_us"]}


def save_bodies(port, key, path):
    with open(path, "w") as f:
        json.dump(attempts(port, key)["bodies"], f)


class AgentdServe:
    """A long-lived `agentd serve` on the same config: tasks one after another (warm)."""

    def __init__(self, build, config, key):
        env = dict(os.environ, BENCH_FAKE_KEY=key, LOG_LEVEL="info")
        self.p = subprocess.Popen([os.path.join(build, "bin/agentd"), "serve", "--config", config,
                                   "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = re.search(r'"api":"127\.0\.0\.1:(\d+)"', self.p.stderr.readline())
            if m:
                self.port = int(m.group(1))
                break
        else:
            stop(self.p)
            raise SystemExit("agentd serve did not start")
        # Logs go on being written; drain them so the pipe never fills.
        self.drain = threading.Thread(target=self.p.stderr.read, daemon=True)
        self.drain.start()

    def task(self):
        """Runs one task; returns its execution_time in ms (from the `complete` event)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.request("POST", "/api/run", body=json.dumps({"task": "run the steps"}),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        body = json.loads(r.read())
        if r.status != 202:
            raise SystemExit(f"POST /api/run: {r.status} {body}")
        c.request("GET", f"/api/tasks/{body['task_id']}/stream")
        r = c.getresponse()
        event = None
        while True:
            line = r.readline()
            if not line:
                raise SystemExit("task stream ended before `complete`")
            line = line.decode().rstrip("\r\n")
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = json.loads(line.split(":", 1)[1])
                c.close()
                if event == "error":
                    raise SystemExit(f"agentd serve task failed: {data}")
                return data["data"]["execution_time"] * 1000

    def close(self):
        stop(self.p)
        self.drain.join(timeout=10)


def noop_agent_config(build, tmp, base_url, headers, max_steps, server="", agent_extra=""):
    """agentd.toml of the benchmarks: one agent on the fake model server (OpenAI API) with the
    fixture plugin's tool `noop`; headers is a TOML inline table's body."""
    return f"""{server}[logging]
level = "warn"
[reload]
watch = false
poll_interval_seconds = 0
[plugins.good]
path = "{build}/tests/fixtures/plugins/good_cpp.so"
[model_providers.fake]
type = "openai"
base_url = "{base_url}"
api_key = "k"
headers = {{ {headers} }}
[models.m]
provider = "fake"
model = "fake-model"
[agents.default]
model = "m"
max_steps = {max_steps}
tools = ["noop"]
working_dir = "{tmp}/ws"
{agent_extra}"""


def write_config(path, build, port, tmp, tool_calls=STEPS):
    with open(path, "w") as f:
        f.write(noop_agent_config(
            build, tmp, f"http://127.0.0.1:{port}/v1",
            f'"x-fake-key" = "${{BENCH_FAKE_KEY:-default}}", "x-fake-tool-turns" = "{tool_calls}"',
            tool_calls + 5))


def gap_floors(build, port, bodies_path, gaps=(0, 50, 100, 150, 200), reps=5):
    """The floor again with a busy gap of G us between a response and the next request (an
    agent's own work goes there): per-request time on a reused connection, in us."""
    out = []
    for g in gaps:
        r = raw_agent_loop(build, port, bodies_path, reps, g)
        out.append({"gap_us": g, "per_request_us": r["median_ms"] * 1000 / r["requests"]})
    return out


def long_task(build, tmp, port, tool_calls=150, runs=3):
    """One long task (tool_calls model turns): whole-process wall time, peak RSS and the size of
    the trajectory, which repeats the conversation at every step."""
    config = os.path.join(tmp, "agentd-long.toml")
    write_config(config, build, port, tmp, tool_calls)
    results = [run_agentd(build, config, tmp, f"agentd-long-{i}", port) for i in range(runs)]
    traj = os.path.join(tmp, f"t-agentd-long-{runs - 1}.json")
    return {"requests": results[0]["requests"],
            "wall_ms": statistics.median(r["wall_ms"] for r in results),
            "loop_ms": statistics.median(r["loop_ms"] for r in results),
            "peak_rss_mib": max(r["maxrss_kib"] for r in results) / 1024,
            "trajectory_mib": os.path.getsize(traj) / (1 << 20)}


def steady_state(runs, reused_floors):
    """First step, and the steps from the fifth on, when the process is warm: against the floor
    per request on a reused connection (the connection is open after the first step)."""
    requests = runs[0]["requests"]
    first = statistics.median(r["step_ms"][0] for r in runs)
    later = statistics.median(statistics.median(r["step_ms"][4:]) for r in runs)
    floor = statistics.median(reused_floors) / requests
    return {"first_step_ms": first, "steady_step_ms": later, "floor_per_request_ms": floor,
            "steady_overhead_per_step_ms": later - floor}


def server_clock(runs, warm_splits, cold_splits, interactive):
    """Wall time minus server time: each loop's time minus the server's own time for its
    requests (the fake server's clock), against its floors minus theirs, so that the server's
    work and its variation drop out. Per task (first step included) and per turnaround between
    two requests (the steps after the first); for a process run for one task (`agentd run`)
    against the floor in a warm process and in a process started for the task, and for a warm
    process (`agentd interactive`, tasks after the first; when it ran) against the floor's
    conversations on a reused connection."""
    requests = runs[0]["requests"]

    def med(lists):
        return statistics.median(x for xs in lists for x in xs)

    agentd = statistics.median(r["loop_ms"] - r["server_ms"] for r in runs)
    warm = med(w["fresh_client_ms"] for w in warm_splits)
    cold = statistics.median(c["client_ms"] for c in cold_splits)
    out = {
        "agentd_client_ms": agentd, "warm_floor_client_ms": warm, "cold_floor_client_ms": cold,
        "overhead_per_step_ms": (agentd - warm) / requests,
        "cold_overhead_per_step_ms": (agentd - cold) / requests,
        "agentd_turnaround_us": med(r["turnaround_us"] for r in runs),
        "cold_floor_turnaround_us": med(c["turnaround_us"] for c in cold_splits),
        "reused_floor_turnaround_us": med(w["reused_turnaround_us"] for w in warm_splits),
        "agentd_server_us": med(r["server_us"] for r in runs),
        "cold_floor_server_us": med(c["server_us"] for c in cold_splits),
        "reused_floor_server_us": med(w["reused_server_us"] for w in warm_splits),
    }
    if interactive:
        warm_agentd = med(w["client_ms"] for w in interactive)
        reused = med(w["reused_client_ms"] for w in warm_splits)
        out.update({"warm_agentd_client_ms": warm_agentd, "warm_reused_floor_client_ms": reused,
                    "warm_overhead_per_step_ms": (warm_agentd - reused) / requests,
                    "warm_agentd_turnaround_us": med(w["turnaround_us"] for w in interactive)})
    return out


def summary(runs, floors, warm_loops, warm_floor, cold_floors):
    loop = statistics.median(r["loop_ms"] for r in runs)
    requests = runs[0]["requests"]
    floor = statistics.median(floors)
    cold = statistics.median(cold_floors)
    out = {
        "runs": len(runs),
        "requests": requests,
        "requests_all_equal": all(r["requests"] == requests for r in runs),
        "loop_ms": loop,
        "floor_ms": floor,
        "overhead_per_step_ms": (loop - floor) / requests,
        "cold_floor_ms": cold,
        "cold_overhead_per_step_ms": (loop - cold) / requests,
        "wall_ms": statistics.median(r["wall_ms"] for r in runs),
        "startup_ms": statistics.median(r["startup_ms"] for r in runs),
        "peak_rss_mib": max(r["maxrss_kib"] for r in runs) / 1024,
        "median_rss_mib": statistics.median(r["maxrss_kib"] for r in runs) / 1024,
    }
    if warm_loops:
        w = statistics.median(warm_loops)
        out.update({"warm_runs": len(warm_loops), "warm_loop_ms": w, "warm_floor_ms": warm_floor,
                    "warm_overhead_per_step_ms": (w - warm_floor) / requests})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("out")
    ap.add_argument("runs", nargs="?", type=int, default=30)
    ap.add_argument("--peers", default="")
    ap.add_argument("--warm", type=int, default=5, help="warm tasks per run and framework")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    peers_dir = os.path.abspath(args.peers) if args.peers else ""
    node = os.path.join(peers_dir, "node_modules/.bin/node") if peers_dir else ""
    peers = [p for p in PEERS if node and os.path.exists(node)]
    tmp = tempfile.mkdtemp(prefix="agentd-bench-agent-")
    server, port = start_fake_server(root)
    serve = None
    try:
        config = os.path.join(tmp, "agentd.toml")
        write_config(config, build, port, tmp)
        # One run per framework with its own key captures the exact request bodies it sends.
        bodies = {"agentd": os.path.join(tmp, "bodies-agentd.json")}
        run_agentd(build, config, tmp, "agentd-capture", port)
        save_bodies(port, "agentd-capture", bodies["agentd"])
        for name, script, _ in peers:
            run_peer(build, tmp, node, os.path.join(peers_dir, script), port, f"{name}-capture")
            bodies[name] = os.path.join(tmp, f"bodies-{name}.json")
            save_bodies(port, f"{name}-capture", bodies[name])
        if args.warm:
            serve = AgentdServe(build, config, "agentd-serve")
            serve.task()  # warm-up, and the streamed bodies of one task for its floor
            bodies["agentd_serve"] = os.path.join(tmp, "bodies-agentd-serve.json")
            with open(bodies["agentd_serve"], "w") as f:
                json.dump(attempts(port, "agentd-serve")["bodies"][-(STEPS + 1):], f)

        results = {n: [] for n in ["agentd"] + [p[0] for p in peers]}
        # A process run for one task opens its connection: its floor does too (fresh). A warm
        # process keeps its connection: its floor reuses one.
        # agentd's floors keep their server records (warm_splits, cold_splits); the peers' keep
        # their times only.
        floors = {n: [] for n, _, _ in peers}
        cold_floors = {n: [] for n, _, _ in peers}
        warm_floors = {n: [] for n, _, _ in peers}
        serve_floors = []
        warm_splits, cold_splits = [], []
        interactive = []  # warm agentd processes, when --warm
        warm = {n: [] for n in results}
        for i in range(args.runs):
            results["agentd"].append(run_agentd(build, config, tmp, f"agentd-{i}", port))
            warm_splits.append(warm_floor_split(build, port, bodies["agentd"], f"floor-{i}"))
            cold_splits.append(cold_floor(build, port, bodies["agentd"], f"floor-cold-{i}"))
            if args.warm:
                interactive.append(run_interactive(build, config, tmp, f"agentd-interactive-{i}",
                                                   port, args.warm + 1))
                for _ in range(args.warm):
                    warm["agentd"].append(serve.task())
                serve_floors.append(floor_ms(build, port, bodies["agentd_serve"])[1])
            for name, script, _ in peers:
                path = os.path.join(peers_dir, script)
                results[name].append(run_peer(build, tmp, node, path, port, f"{name}-{i}"))
                fresh, reused = floor_ms(build, port, bodies[name])
                floors[name].append(fresh)
                warm_floors[name].append(reused)
                cold_floors[name].append(
                    cold_floor(build, port, bodies[name], f"{name}-floor-cold-{i}")["ms"])
                if args.warm:
                    warm[name] += run_peer(build, tmp, node, path, port, f"{name}-warm-{i}",
                                           args.warm)["warm_loop_ms"]
        gaps = gap_floors(build, port, bodies["agentd"])
        long = long_task(build, tmp, port)
    finally:
        if serve is not None:
            serve.close()
        stop(server)
        shutil.rmtree(tmp, ignore_errors=True)
    # agentd's warm figure is `agentd interactive`'s tasks after the first, as the peers' is their
    # script repeating the task: one process, a connection kept from the task before, nobody
    # watching; its floor is the bare loop's conversations on a reused connection.
    loops = [x for w in interactive for x in w["loop_ms"]]
    reused_floors = [w["reused_ms"] for w in warm_splits]
    agentd = summary(results["agentd"], [w["fresh_ms"] for w in warm_splits], loops,
                     statistics.median(reused_floors), [c["ms"] for c in cold_splits])
    # A warm `agentd serve`: tasks over the API with a client reading every event of the SSE
    # stream, the model's answers streamed; its floor replays its own streamed bodies.
    if warm["agentd"]:
        serve_floor = statistics.median(serve_floors)
        agentd.update({"serve_runs": len(warm["agentd"]),
                       "serve_loop_ms": statistics.median(warm["agentd"]),
                       "serve_floor_ms": serve_floor,
                       "serve_overhead_per_step_ms":
                           (statistics.median(warm["agentd"]) - serve_floor) / agentd["requests"]})
    agentd["steps"] = results["agentd"][0]["steps"]
    agentd.update(steady_state(results["agentd"], reused_floors))
    agentd["server_clock"] = server_clock(results["agentd"], warm_splits, cold_splits,
                                          interactive)
    agentd["gap_floors"] = gaps
    agentd["long_task"] = long
    out = {
        # The keys of the first version of this benchmark (BENCHMARKS.md's agent section).
        "steps": agentd["requests"],
        "runs": args.runs,
        "agentd_loop_ms": agentd["loop_ms"],
        "agentd_wall_ms": agentd["wall_ms"],
        "agentd_startup_and_exit_ms": agentd["wall_ms"] - agentd["loop_ms"],
        "raw_ms": agentd["floor_ms"],
        "overhead_per_step_ms": agentd["overhead_per_step_ms"],
        "agentd_peak_rss_mib": agentd["peak_rss_mib"],
        "frameworks": {"agentd": dict(agentd, label="agentd", version="")},
    }
    for name, _, package in peers:
        s = summary(results[name], floors[name], warm[name],
                    statistics.median(warm_floors[name]), cold_floors[name])
        s.update(label=package, version=results[name][0]["version"],
                 node=results[name][0]["node"])
        out["frameworks"][name] = s
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
