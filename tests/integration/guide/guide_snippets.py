#!/usr/bin/env python3
"""Compiles and checks every code block of AGENT_TEMPLATE_GUIDE.md.

usage: guide_snippets.py BINARY_DIR TMP_ROOT PYTHON3

- C, C++ and CMake blocks start with `// guide:file PROJECT/FILE` (or `# guide:file ...`): they
  are written out as projects, built against the SDK installed into a temporary prefix (no
  warnings allowed), and every plugin is loaded with `agentd plugins list`. A code block without
  a marker fails the test.
- hello/ and hello_c/ must be identical to tests/integration/sdk_out_of_tree (the guide says so).
- TOML blocks start with `# guide:config` (checked by `agentd show-config`), `# guide:config
  validate` (`agentd validate-config`, plugins from the build) or `# guide:fragment` (parsed as
  TOML only).
- The plugins then run: a scripted model calls the counter, skill and MCP adapter tools through
  `agentd run`, the MCP adapter talking to a real stdio MCP server.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
GUIDE = os.path.join(ROOT, "AGENT_TEMPLATE_GUIDE.md")
CODE_LANGS = {"c", "cpp", "cmake"}
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def run(argv, env=None, cwd=None, timeout=300):
    r = subprocess.run(argv, env=env, cwd=cwd, timeout=timeout, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return r.returncode, r.stdout


def blocks(text):
    """Yields (line, lang, body) for each fenced block; indented fences are de-indented."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start = len(m.group(1)), m.group(2), i + 1
        body = []
        i += 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        if i >= len(lines):
            fail(f"AGENT_TEMPLATE_GUIDE.md:{start}: unterminated code block")
        i += 1
        yield start, lang, "\n".join(body) + "\n"


def main():
    bin_dir, tmp_root, python3 = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3]
    agentd = os.path.join(bin_dir, "bin", "agentd")
    plugin_dir = os.path.join(bin_dir, "plugins")
    tmp = tempfile.mkdtemp(prefix="guide_snippets.", dir=tmp_root)
    try:
        check(agentd, plugin_dir, bin_dir, tmp, python3)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} finding(s)", file=sys.stderr)
        sys.exit(1)
    print("guide snippets: ok")


def check(agentd, plugin_dir, bin_dir, tmp, python3):
    text = open(GUIDE, encoding="utf-8").read()
    projects = {}
    configs = []
    counts = {"code": 0, "config": 0, "fragment": 0}
    for line, lang, body in blocks(text):
        first, _, rest = body.partition("\n")
        where = f"AGENT_TEMPLATE_GUIDE.md:{line}"
        if lang in CODE_LANGS:
            m = re.match(r"^(?://|#) guide:file ([a-z0-9_]+)/([A-Za-z0-9_.]+)$", first)
            if not m:
                fail(f"{where}: {lang} block without a `guide:file PROJECT/FILE` first line")
                continue
            files = projects.setdefault(m.group(1), {})
            if m.group(2) in files:
                fail(f"{where}: {m.group(1)}/{m.group(2)} defined twice")
            files[m.group(2)] = rest
            counts["code"] += 1
        elif lang == "toml":
            if first.startswith("# guide:fragment"):
                try:
                    tomllib.loads(body)
                except tomllib.TOMLDecodeError as e:
                    fail(f"{where}: TOML fragment does not parse: {e}")
                counts["fragment"] += 1
            elif first in ("# guide:config", "# guide:config validate"):
                configs.append((where, first.endswith("validate"), body))
                counts["config"] += 1
            else:
                fail(f"{where}: toml block without `# guide:config [validate]` or `# guide:fragment`")
    print(f"blocks: {counts}; projects: {sorted(projects)}")
    if counts["code"] < 12 or counts["config"] < 5:
        fail(f"too few checked blocks: {counts}")

    # The guide's hello and hello_c are the out-of-tree test's files.
    for project, files in (("hello", ("hello.cc", "CMakeLists.txt")),
                           ("hello_c", ("hello_c.c", "CMakeLists.txt"))):
        for f in files:
            ref = open(os.path.join(ROOT, "tests/integration/sdk_out_of_tree", project, f)).read()
            if projects.get(project, {}).get(f) != ref:
                fail(f"{project}/{f} in the guide differs from tests/integration/sdk_out_of_tree")

    # TOML configurations.
    for i, (where, validate, body) in enumerate(configs):
        path = os.path.join(tmp, "configs", f"config{i}.toml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").write(body)
        env = {"PATH": os.environ["PATH"], "HOME": tmp, "TMPDIR": tmp,
               "AGENTD_PLUGIN_DIR": plugin_dir}
        for var in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", body):
            env[var] = f"guide-test-value-{var.lower()}"
        code, out = run([agentd, "show-config", "--config", path], env=env)
        if code != 0:
            fail(f"{where}: agentd show-config rejects it:\n{out}")
        if validate:
            code, out = run([agentd, "validate-config", "--config", path], env=env)
            if code != 0:
                fail(f"{where}: agentd validate-config rejects it:\n{out}")

    # Build every project against the installed SDK.
    prefix = os.path.join(tmp, "prefix")
    code, out = run(["cmake", "--install", bin_dir, "--component", "sdk", "--prefix", prefix])
    if code != 0:
        fail(f"installing the SDK failed:\n{out}")
        return
    built = {}
    for project, files in sorted(projects.items()):
        src = os.path.join(tmp, "projects", project)
        os.makedirs(src, exist_ok=True)
        for name, content in files.items():
            open(os.path.join(src, name), "w").write(content)
        if "CMakeLists.txt" not in files:
            fail(f"project {project} has no CMakeLists.txt block")
            continue
        build = os.path.join(src, "build")
        code, out = run(["cmake", "-S", src, "-B", build, "-G", "Ninja",
                         f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF"])
        if code == 0:
            code, out2 = run(["cmake", "--build", build])
            out += out2
        if code != 0:
            fail(f"project {project} does not build:\n{out}")
            continue
        if re.search(r"warning", out, re.I):
            fail(f"project {project} builds with warnings:\n{out}")
        so = os.path.join(build, project + ".so")
        if not os.path.exists(so):
            fail(f"project {project} did not produce {project}.so")
            continue
        built[project] = so
        print(f"built {project}.so")
    for project, so in built.items():
        if project == "mcp_stdio":
            continue  # needs a server in its config: loaded below
        code, out = run([agentd, "plugins", "list", "--plugin", so, "--json"])
        if code != 0 or '"errors":[]' not in out or f'"name":"{project}"' not in out:
            fail(f"agentd plugins list --plugin {project}.so:\n{out}")

    # Run them: counter (reconfigured to offer count_down), both skills, the MCP adapter against
    # a stdio MCP server, through a scripted model.
    needed = {"counter", "review", "review_c", "mcp_stdio"}
    if not needed <= built.keys():
        fail(f"cannot run the plugins: missing {sorted(needed - built.keys())}")
        return
    work = os.path.join(tmp, "run")
    os.makedirs(work)
    server = os.path.join(ROOT, "tests/integration/k8s/mcp_echo_server.py")
    with open(os.path.join(work, "turns.jsonl"), "w") as f:
        f.write(json.dumps({"tool_calls": [
            {"id": "c1", "name": "files__echo", "arguments": {"text": "hello over MCP"}},
            {"id": "c2", "name": "count_down", "arguments": {"n": 3}},
            {"id": "c3", "name": "review_instructions", "arguments": {}}]}) + "\n")
        f.write(json.dumps({"tool_calls": [{"id": "c4", "name": "task_done", "arguments": {}}]}) + "\n")
        f.write(json.dumps({"content": "done"}) + "\n")
    cfg = os.path.join(work, "agentd.toml")
    with open(cfg, "w") as f:
        f.write(f"""[plugins.counter]
path = "{built['counter']}"
config = {{ step_ms = 1, count_down = true }}
[plugins.review]
path = "{built['review']}"
[plugins.review_c]
path = "{built['review_c']}"
[plugins.mcp_stdio]
path = "{built['mcp_stdio']}"
config = {{ name = "files", command = "{python3}", args = ["{server}"], timeout_ms = 10000 }}
[plugins.task_done]
path = "{os.path.join(bin_dir, 'plugins', 'task_done.so')}"
[model_providers.script]
type = "scripted"
script = "turns.jsonl"
[models.m]
provider = "script"
[agents.default]
model = "m"
tools = ["files__echo", "count_up", "count_down", "review_instructions", "task_done"]
skills = ["code_review", "release_notes"]
""")
    code, out = run([agentd, "plugins", "list", "--config", cfg, "--json"])
    for want in ['"name":"mcp_stdio","kind":"mcp_adapter"', '"name":"files__echo"',
                 '"name":"count_down"', '"name":"code_review"', '"name":"release_notes"',
                 '"errors":[]']:
        if want not in out:
            fail(f"plugins list --config lacks {want}:\n{out}")
    traj = os.path.join(work, "trajectory.json")
    code, out = run([agentd, "run", "--config", cfg, "-t", traj, "use the tools"], cwd=work)
    print(out)
    if code != 0:
        fail(f"agentd run failed ({code}):\n{out}")
    for want in ["ok   files__echo", "hello over MCP", "count_down reached 1 for task",
                 "ok   review_instructions", "completed in 2 steps"]:
        if want not in out:
            fail(f"agentd run output lacks {want!r}")
    record = open(traj).read() if os.path.exists(traj) else ""
    for want in ["code_review: Review a change", "release_notes: Write release notes",
                 "Read the whole diff"]:
        if want not in record:
            fail(f"the trajectory lacks {want!r} (skills in the prompt, instructions loaded)")


if __name__ == "__main__":
    main()
