#!/usr/bin/env node
// Offline checks of deploy/ (run by the test suite; see tests/integration/k8s/CMakeLists.txt).
//
//   check.mjs manifests --kubectl K --agentd A --plugin-dir D --tmp T
//       `kubectl kustomize deploy/k8s`; every object validated against the Kubernetes and
//       Prometheus Operator schemas (unknown fields included); the operator contract (config
//       mounted as a directory, probes, security context, grace period, selectors, ...); the
//       ConfigMap's agentd.toml checked by `agentd show-config`/`validate-config` and booted
//       with `agentd serve`.
//   check.mjs rules OUT        writes the PrometheusRule's spec as a Prometheus rules file.
//   check.mjs dashboard        structure of deploy/grafana/agentd-dashboard.json.
//   check.mjs dockerfile --agentd A --plugin-dir D
//       deploy/Dockerfile against scripts/lib.sh, scripts/run.sh and the Deployment.
//
// Exits 0 when everything holds, 1 with one line per finding otherwise.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const K8S = path.join(ROOT, "deploy/k8s");
const failures = [];
const fail = (msg) => failures.push(msg);
const check = (cond, msg) => {
  if (!cond) fail(msg);
  return !!cond;
};

function args(argv) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith("--")) out[argv[i].slice(2)] = argv[++i];
    else out._.push(argv[i]);
  }
  return out;
}

function finish(what) {
  if (failures.length) {
    for (const f of failures) console.error(`FAIL ${what}: ${f}`);
    console.error(`${failures.length} finding(s)`);
    process.exit(1);
  }
  console.log(`${what}: ok`);
}

// ---------------------------------------------------------------- schema validation

// Wraps data so that every property the compiled validator reads is recorded: a key the
// validator never looked at, in an object whose other keys it did look at, is an unknown field
// (the API server's strict field validation rejects those; the schemas alone don't).
function track(data, where, seen) {
  if (data === null || typeof data !== "object") return data;
  const rec = { where, obj: data, read: new Set(), enumerated: false };
  seen.push(rec);
  const copy = Array.isArray(data)
    ? data.map((v, i) => track(v, `${where}/${i}`, seen))
    : Object.fromEntries(Object.entries(data).map(([k, v]) => [k, track(v, `${where}/${k}`, seen)]));
  return new Proxy(copy, {
    get(t, k, r) {
      if (typeof k === "string") rec.read.add(k);
      return Reflect.get(t, k, r);
    },
    has(t, k) {
      if (typeof k === "string") rec.read.add(k);
      return Reflect.has(t, k);
    },
    ownKeys(t) {
      rec.enumerated = true;  // a map (labels, data, ...): every key is allowed
      return Reflect.ownKeys(t);
    },
  });
}

async function modelClass(apiVersion, kind) {
  let mod;
  if (apiVersion.startsWith("monitoring.coreos.com/")) {
    mod = await import(`@kubernetes-models/prometheus-operator/${apiVersion}`);
  } else {
    mod = await import(`kubernetes-models/${apiVersion}`);
  }
  return mod[kind];
}

// Returns a list of problems of one object ("" when valid).
async function validateObject(obj, label) {
  const problems = [];
  if (!obj || typeof obj !== "object" || !obj.apiVersion || !obj.kind) {
    return [`${label}: not a Kubernetes object (apiVersion and kind required)`];
  }
  let cls;
  try {
    cls = await modelClass(obj.apiVersion, obj.kind);
  } catch (e) {
    cls = undefined;
  }
  if (!cls || typeof cls.prototype.validate !== "function") {
    return [`${label}: no schema for ${obj.apiVersion} ${obj.kind}`];
  }
  const seen = [];
  const wrapped = track(obj, "", seen);
  try {
    cls.prototype.validate.call(wrapped);
  } catch (e) {
    problems.push(`${label}: ${e.message}`);
  }
  for (const r of seen) {
    if (Array.isArray(r.obj) || r.enumerated || r.read.size === 0) continue;
    for (const k of Object.keys(r.obj)) {
      if (!r.read.has(k)) problems.push(`${label}: unknown field ${r.where}/${k}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------- helpers

function kustomize(kubectl) {
  const out = execFileSync(kubectl, ["kustomize", K8S], { encoding: "utf8" });
  return YAML.parseAllDocuments(out).map((d) => {
    if (d.errors.length) throw new Error(`kustomize output is not YAML: ${d.errors[0].message}`);
    return d.toJS();
  }).filter((o) => o !== null);
}

const matches = (selector, labels) =>
  !!selector && Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels && labels[k] === v);

const durationSeconds = (s) => {
  const m = /^(\d+)(ms|s|m|h)$/.exec(String(s));
  if (!m) return NaN;
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
};

function run(cmd, argv, env, timeoutMs = 60000) {
  try {
    const out = execFileSync(cmd, argv, { encoding: "utf8", env, timeout: timeoutMs, stdio: ["ignore", "pipe", "pipe"] });
    return { code: 0, out };
  } catch (e) {
    return { code: e.status ?? -1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

// Starts `agentd serve` on the config, checks the probes and /metrics, then SIGTERM.
async function bootAgentd(agentd, configPath, env) {
  const child = spawn(agentd, ["serve", "--config", configPath, "--listen", "127.0.0.1:0",
    "--metrics-listen", "127.0.0.1:0"], { env, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (d) => { log += d.toString(); });
  const exited = new Promise((resolve) => child.on("exit", (code, sig) => resolve(code ?? 128)));
  const deadline = Date.now() + 30000;
  let serving;
  while (Date.now() < deadline && !(serving = /"msg":"agentd serving".*/.exec(log))) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    if (!check(serving, `agentd serve did not start on the ConfigMap's config:\n${log}`)) return;
    const api = /"api":"([0-9.]+:\d+)"/.exec(serving[0])[1];
    const metrics = /"metrics":"([0-9.]+:\d+)"/.exec(serving[0])[1];
    const get = async (url) => {
      const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
      return { status: r.status, body: await r.text() };
    };
    check((await get(`http://${api}/livez`)).status === 200, "/livez is not 200 on the shipped config");
    const ready = await get(`http://${api}/readyz?verbose`);
    check(ready.status === 200, `/readyz is ${ready.status} on the shipped config:\n${ready.body}`);
    const m = await get(`http://${metrics}/metrics`);
    check(/^agentd_build_info\{/m.test(m.body), "/metrics lacks agentd_build_info on the shipped config");
    check(/^agentd_plugins_loaded\{kind="tool"\} [1-9]/m.test(m.body),
      "the shipped config loads no tool plugin from AGENTD_PLUGIN_DIR");
    const unauth = await get(`http://${api}/api/tasks`);
    check(unauth.status === 401, `the shipped config serves /api/tasks without a key (${unauth.status})`);
  } finally {
    child.kill("SIGTERM");
    let timer;
    const code = await Promise.race([exited, new Promise((r) => { timer = setTimeout(() => r("timeout"), 30000); })]);
    clearTimeout(timer);
    if (code === "timeout") child.kill("SIGKILL");
    check(code === 0, `agentd did not exit 0 on SIGTERM (${code}):\n${log.slice(-2000)}`);
  }
}

// ---------------------------------------------------------------- manifests

async function manifests(opt) {
  for (const k of ["kubectl", "agentd", "plugin-dir", "tmp"]) {
    if (!opt[k]) throw new Error(`--${k} is required`);
  }
  const objs = kustomize(opt.kubectl);
  const secretExample = YAML.parse(fs.readFileSync(path.join(K8S, "secret.example.yaml"), "utf8"));
  for (const [i, o] of objs.entries()) {
    for (const p of await validateObject(o, `${o?.kind ?? "object"}/${o?.metadata?.name ?? i}`)) fail(p);
  }
  for (const p of await validateObject(secretExample, "secret.example.yaml")) fail(p);

  const byKind = {};
  for (const o of objs) (byKind[o.kind] ??= []).push(o);
  const want = ["ServiceAccount", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget",
    "HorizontalPodAutoscaler", "NetworkPolicy", "ServiceMonitor", "PrometheusRule"];
  for (const k of want) check(byKind[k]?.length === 1, `expected exactly one ${k}, found ${byKind[k]?.length ?? 0}`);
  check(!byKind.Secret, "the kustomization must not ship a Secret (apply would overwrite real keys)");
  for (const k of Object.keys(byKind)) check(want.includes(k), `unexpected kind ${k}`);
  if (failures.length) return;

  const [cm] = byKind.ConfigMap, [dep] = byKind.Deployment, [svc] = byKind.Service;
  const [sm] = byKind.ServiceMonitor, [pdb] = byKind.PodDisruptionBudget;
  const [hpa] = byKind.HorizontalPodAutoscaler, [np] = byKind.NetworkPolicy;
  const [rule] = byKind.PrometheusRule;
  const pod = dep.spec.template.spec;
  const podLabels = dep.spec.template.metadata.labels;
  const c = pod.containers.find((x) => x.name === "agentd");
  if (!check(c, "the Deployment has no container named agentd")) return;

  // The ConfigMap: plain name, mounted as a directory, --config pointing inside.
  check(!/-[a-z0-9]{10}$/.test(cm.metadata.name), `ConfigMap name ${cm.metadata.name} looks hashed (generator)`);
  check(cm.data && typeof cm.data["agentd.toml"] === "string", "the ConfigMap has no agentd.toml key");
  const cfgVol = pod.volumes.find((v) => v.configMap);
  check(cfgVol && cfgVol.configMap.name === cm.metadata.name,
    `no volume mounts ConfigMap ${cm.metadata.name}`);
  for (const m of c.volumeMounts ?? []) check(!m.subPath && !m.subPathExpr, `volumeMount ${m.name} uses subPath (never updates)`);
  const cfgMount = (c.volumeMounts ?? []).find((m) => cfgVol && m.name === cfgVol.name);
  const argv = [...(c.command ?? []), ...(c.args ?? [])];
  const cfgPath = argv[argv.indexOf("--config") + 1];
  check(argv[0] === "serve" || argv.includes("serve"), "the container does not run `agentd serve`");
  check(cfgMount && cfgPath === `${cfgMount.mountPath}/agentd.toml`,
    `--config ${cfgPath} is not the ConfigMap's file inside its directory mount ${cfgMount?.mountPath}`);
  check(cfgMount?.readOnly === true, "the config mount is not read-only");

  // Ports and probes.
  const port = (name) => (c.ports ?? []).find((p) => p.name === name);
  check(port("http")?.containerPort === 8080, "container port http is not 8080");
  check(port("metrics")?.containerPort === 9090, "container port metrics is not 9090");
  const probe = (p, pathWant) => p?.httpGet?.path === pathWant && p.httpGet.port === "http";
  check(probe(c.livenessProbe, "/livez"), "livenessProbe is not GET /livez on port http");
  check(probe(c.readinessProbe, "/readyz"), "readinessProbe is not GET /readyz on port http");
  check(c.startupProbe?.httpGet?.port === "http", "startupProbe is not on port http");
  const startupBudget = (c.startupProbe?.periodSeconds ?? 10) * (c.startupProbe?.failureThreshold ?? 3);
  check(startupBudget >= 30, `startupProbe allows only ${startupBudget} s to start`);

  // Restricted security context (Pod Security Standards "restricted").
  const sc = c.securityContext ?? {}, psc = pod.securityContext ?? {};
  check(sc.runAsNonRoot === true || psc.runAsNonRoot === true, "runAsNonRoot is not set");
  check((sc.runAsUser ?? psc.runAsUser) > 0, "runAsUser is not a non-zero UID");
  check(sc.readOnlyRootFilesystem === true, "readOnlyRootFilesystem is not true");
  check(sc.allowPrivilegeEscalation === false, "allowPrivilegeEscalation is not false");
  check(sc.privileged !== true, "privileged container");
  check(JSON.stringify(sc.capabilities?.drop) === '["ALL"]' && !sc.capabilities?.add,
    "capabilities do not drop ALL (or add some)");
  check((sc.seccompProfile ?? psc.seccompProfile)?.type === "RuntimeDefault", "seccompProfile is not RuntimeDefault");
  check(pod.automountServiceAccountToken === false, "a service account token is mounted");
  for (const r of ["cpu", "memory"]) {
    check(c.resources?.requests?.[r], `no ${r} request`);
    check(c.resources?.limits?.[r] || r === "cpu", `no ${r} limit`);
  }
  check(c.resources?.limits?.memory, "no memory limit");

  // Writable emptyDirs on a read-only root filesystem.
  const emptyDirMount = (p) => (c.volumeMounts ?? []).some((m) =>
    pod.volumes.find((v) => v.name === m.name)?.emptyDir &&
    (p === m.mountPath || p.startsWith(`${m.mountPath}/`)));
  check(emptyDirMount("/tmp"), "/tmp is not a writable emptyDir");
  check(c.workingDir && emptyDirMount(c.workingDir), `workingDir ${c.workingDir} is not on an emptyDir (task workspaces)`);
  check(emptyDirMount("/var/lib/agentd/trajectories"), "no emptyDir for trajectories");

  // Secrets: env from the Secret of secret.example.yaml, every ${VAR} of the config provided.
  const envNames = new Set((c.env ?? []).map((e) => e.name));
  for (const e of c.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (!ref) continue;
    check(ref.name === secretExample.metadata.name, `env ${e.name} reads Secret ${ref.name}, not ${secretExample.metadata.name}`);
    check(secretExample.stringData && ref.key in secretExample.stringData,
      `env ${e.name} reads key ${ref.key}, which secret.example.yaml lacks`);
  }
  check((c.env ?? []).some((e) => e.valueFrom?.secretKeyRef), "no environment variable comes from a Secret");
  const toml = cm.data["agentd.toml"];
  const tomlCode = toml.split("\n").filter((l) => !l.trim().startsWith("#")).join("\n");
  const required = [...tomlCode.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]);
  check(required.length > 0, "the config uses no ${VAR} secret");
  for (const v of required) check(envNames.has(v), `the config needs \${${v}} but the container does not set ${v}`);
  for (const k of Object.keys(secretExample.stringData ?? {})) {
    check(toml.includes(`\${${k}}`), `Secret key ${k} is not used by the config`);
    check((c.env ?? []).some((e) => e.valueFrom?.secretKeyRef?.key === k), `Secret key ${k} is not passed to the container`);
  }

  // The ConfigMap's config, as agentd reads it (secrets set to dummies, plugins from the build).
  fs.mkdirSync(opt.tmp, { recursive: true });
  const cfgFile = path.join(opt.tmp, "agentd.toml");
  fs.writeFileSync(cfgFile, toml);
  const env = { PATH: process.env.PATH, HOME: opt.tmp, TMPDIR: opt.tmp, AGENTD_PLUGIN_DIR: path.resolve(opt["plugin-dir"]) };
  for (const v of required) env[v] = `test-${v.toLowerCase()}`;
  const shown = run(opt.agentd, ["show-config", "--config", cfgFile, "--json"], env);
  if (!check(shown.code === 0, `agentd show-config rejects the ConfigMap's config:\n${shown.out}`)) return;
  const eff = JSON.parse(shown.out);
  check(eff.server.listen === `0.0.0.0:${port("http")?.containerPort}`, `[server].listen is ${eff.server.listen}, not 0.0.0.0:8080`);
  check(eff.metrics.listen === `0.0.0.0:${port("metrics")?.containerPort}`, `[metrics].listen is ${eff.metrics.listen}, not 0.0.0.0:9090`);
  check(eff.plugins.state_dir && emptyDirMount(eff.plugins.state_dir),
    `[plugins].state_dir ${eff.plugins.state_dir} is not on a writable emptyDir`);
  check(!JSON.stringify(eff).includes("test-openai_api_key"), "show-config printed a secret");
  const grace = eff.server.shutdown_grace_seconds;
  const preStop = c.lifecycle?.preStop?.exec?.command;
  const preStopSeconds = preStop && preStop[0] === "sleep" ? Number(preStop[1]) : 0;
  check(pod.terminationGracePeriodSeconds >= preStopSeconds + grace + 2,
    `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} < preStop ${preStopSeconds} + shutdown_grace_seconds ${grace} + 2`);
  const valid = run(opt.agentd, ["validate-config", "--config", cfgFile], env);
  check(valid.code === 0, `agentd validate-config rejects the ConfigMap's config:\n${valid.out}`);
  await bootAgentd(opt.agentd, cfgFile, { ...env, AGENTD_PLUGINS_STATE_DIR: path.join(opt.tmp, "state") });

  // Service, ServiceMonitor, PDB, HPA, NetworkPolicy select the pods and use the named ports.
  check(matches(svc.spec.selector, podLabels), "the Service does not select the pods");
  for (const [name, num] of [["http", 8080], ["metrics", 9090]]) {
    const p = svc.spec.ports.find((x) => x.name === name);
    check(p && p.port === num && p.targetPort === name, `Service port ${name} is not ${num} -> ${name}`);
  }
  check(matches(sm.spec.selector.matchLabels, svc.metadata.labels), "the ServiceMonitor does not select the Service");
  const ep = sm.spec.endpoints ?? [];
  check(ep.length === 1 && ep[0].port === "metrics" && (ep[0].path ?? "/metrics") === "/metrics",
    "the ServiceMonitor does not scrape /metrics on port metrics");
  check(matches(pdb.spec.selector.matchLabels, podLabels), "the PodDisruptionBudget does not select the pods");
  check(hpa.spec.scaleTargetRef.kind === "Deployment" && hpa.spec.scaleTargetRef.name === dep.metadata.name,
    "the HPA does not scale the Deployment");
  check(hpa.spec.minReplicas >= 2 && pdb.spec.minAvailable < hpa.spec.minReplicas,
    "HPA minReplicas must be >= 2 and above the PDB's minAvailable, or drains block");
  check(dep.spec.replicas === undefined, "the Deployment sets replicas, which fights the HPA");
  check(matches(np.spec.podSelector.matchLabels, podLabels), "the NetworkPolicy does not select the pods");
  check(np.spec.policyTypes.includes("Ingress"), "the NetworkPolicy does not restrict ingress");
  const allows = (portName, pred) => np.spec.ingress.some((r) =>
    (r.ports ?? []).some((p) => p.port === portName || p.port === port(portName)?.containerPort) &&
    (r.from ?? []).length > 0 && r.from.every(pred));
  check(allows("metrics", (f) => f.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"] === "monitoring" && !f.podSelector),
    "the metrics port is not open to (only) the monitoring namespace");
  check(allows("http", (f) => (f.podSelector && Object.keys(f.podSelector.matchLabels ?? {}).length > 0) ||
      (f.namespaceSelector && Object.keys(f.namespaceSelector.matchLabels ?? {}).length > 0)),
    "the API port is not limited to labelled clients");
  check(!np.spec.ingress.some((r) => !r.from || r.from.length === 0), "a NetworkPolicy rule admits every source");

  // The alerts the runbook names.
  const alerts = rule.spec.groups.flatMap((g) => g.rules).filter((r) => r.alert);
  for (const a of ["AgentdConfigReloadFailing", "AgentdPluginGenerationsQuarantined", "AgentdNotReady",
    "AgentdModelErrorRateHigh", "AgentdMcpServerDown"]) {
    check(alerts.some((r) => r.alert === a), `PrometheusRule lacks alert ${a}`);
  }
  for (const a of alerts) {
    check(["critical", "warning", "info"].includes(a.labels?.severity), `${a.alert}: no severity label`);
    check(a.annotations?.summary && a.annotations?.description, `${a.alert}: summary and description required`);
    check(a.for === undefined || !Number.isNaN(durationSeconds(a.for)), `${a.alert}: bad for ${a.for}`);
  }
}

// ---------------------------------------------------------------- rules

function rules(out) {
  const pr = YAML.parse(fs.readFileSync(path.join(K8S, "prometheusrule.yaml"), "utf8"));
  if (!pr?.spec?.groups?.length) throw new Error("prometheusrule.yaml has no spec.groups");
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, "# Generated from deploy/k8s/prometheusrule.yaml (spec); do not edit.\n" +
    YAML.stringify({ groups: pr.spec.groups }, { lineWidth: 0 }));
  console.log(`wrote ${out}: ${pr.spec.groups.length} groups`);
}

// ---------------------------------------------------------------- dashboard

function dashboard() {
  const file = path.join(ROOT, "deploy/grafana/agentd-dashboard.json");
  const d = JSON.parse(fs.readFileSync(file, "utf8"));
  check(d.title && d.uid && Number.isInteger(d.schemaVersion), "title, uid and schemaVersion are required");
  const vars = d.templating?.list ?? [];
  const ds = vars.find((v) => v.type === "datasource");
  check(ds && ds.query === "prometheus" && ds.name === "datasource", "no Prometheus datasource variable named datasource");
  const panels = [];
  const walk = (ps) => { for (const p of ps ?? []) { panels.push(p); walk(p.panels); } };
  walk(d.panels);
  const ids = new Set();
  const rows = panels.filter((p) => p.type === "row").map((p) => p.title.toLowerCase());
  for (const topic of ["tasks", "model", "tool calls", "reloads", "plugins"]) {
    check(rows.some((r) => r.includes(topic)), `no row about ${topic}`);
  }
  let targets = 0;
  for (const p of panels) {
    check(Number.isInteger(p.id) && !ids.has(p.id), `panel "${p.title}": missing or duplicate id ${p.id}`);
    ids.add(p.id);
    check(p.gridPos && ["x", "y", "w", "h"].every((k) => Number.isInteger(p.gridPos[k])), `panel "${p.title}": bad gridPos`);
    check(p.title, `panel ${p.id}: no title`);
    if (p.type === "row") continue;
    check(p.datasource?.uid === "${datasource}", `panel "${p.title}": datasource is not \${datasource}`);
    check(p.targets?.length > 0, `panel "${p.title}": no queries`);
    for (const t of p.targets ?? []) {
      targets++;
      check(typeof t.expr === "string" && t.expr.includes("agentd_") || /process_/.test(t.expr), `panel "${p.title}": query ${t.refId} reads no agentd metric`);
      check(/^[A-Z]$/.test(t.refId ?? ""), `panel "${p.title}": bad refId`);
    }
  }
  for (const v of vars.filter((x) => x.type === "query")) {
    check(v.datasource?.uid === "${datasource}", `variable ${v.name}: datasource is not \${datasource}`);
  }
  check(targets >= 15, `only ${targets} queries`);
}

// ---------------------------------------------------------------- dockerfile

function dockerfile(opt) {
  const text = fs.readFileSync(path.join(ROOT, "deploy/Dockerfile"), "utf8").replace(/\\\n/g, " ");
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const stages = [];
  for (const l of lines) {
    const [instr, ...rest] = l.split(/\s+/);
    const arg = rest.join(" ");
    if (instr.toUpperCase() === "FROM") stages.push({ from: rest[0], name: rest[2], lines: [] });
    else if (stages.length) stages.at(-1).lines.push({ instr: instr.toUpperCase(), arg });
  }
  check(stages.length >= 2, "the Dockerfile is not multi-stage");
  for (const s of stages) check(/^debian:bookworm(-slim)?$/.test(s.from), `stage ${s.name ?? ""} is FROM ${s.from}, not Debian 12`);
  const build = stages[0], final = stages.at(-1);
  const runs = (s) => s.lines.filter((l) => l.instr === "RUN").map((l) => l.arg).join("\n");
  // Same steps as the set-up scripts: lib.sh's package list and build function.
  const runSh = fs.readFileSync(path.join(ROOT, "scripts/run.sh"), "utf8");
  check(/install_packages "\$\{AGENTD_BUILD_PKGS\[@\]\}"/.test(runSh) && /^build$/m.test(runSh),
    "scripts/run.sh no longer calls install_packages AGENTD_BUILD_PKGS and build: update the Dockerfile with it");
  check(/source scripts\/lib\.sh && install_packages "\$\{AGENTD_BUILD_PKGS\[@\]\}"/.test(runs(build)),
    "the build stage does not install lib.sh's AGENTD_BUILD_PKGS through install_packages");
  check(/source scripts\/lib\.sh && build'/.test(runs(build)), "the build stage does not run lib.sh's build");
  check(!/apt-get install/.test(text), "the Dockerfile installs packages without lib.sh's install_packages");
  check(/install_packages \$\(cat \/usr\/share\/agentd\/runtime-packages\.txt\)/.test(runs(final)),
    "the runtime stage does not install the packages runtime-packages.sh found");

  const get = (instr) => final.lines.filter((l) => l.instr === instr).map((l) => l.arg);
  const user = get("USER").at(-1) ?? "";
  const uid = Number(user.split(":")[0]);
  check(Number.isInteger(uid) && uid > 0, `the image's USER ${user} is not a numeric non-root UID`);
  const expose = get("EXPOSE").join(" ").split(/\s+/);
  check(expose.includes("8080") && expose.includes("9090"), "the image does not expose 8080 and 9090");
  const entry = JSON.parse(get("ENTRYPOINT").at(-1) ?? "[]");
  const cmd = JSON.parse(get("CMD").at(-1) ?? "[]");
  const copies = final.lines.filter((l) => l.instr === "COPY").map((l) => l.arg.split(/\s+/).filter((a) => !a.startsWith("--")));
  const copiedTo = (p) => copies.some((a) => a.at(-1) === p || (a.at(-1).endsWith("/") && p.startsWith(a.at(-1))));
  const bin = entry.find((a) => a.endsWith("/agentd"));
  check(bin && copies.some((a) => a[0] === "/src/build/bin/agentd" && a.at(-1) === bin),
    `the ENTRYPOINT's agentd (${bin}) is not the one copied from the build stage`);
  check(entry[0] === "/usr/bin/tini" && /\btini\b/.test(runs(final)), "agentd does not run under tini");
  const defCfg = cmd[cmd.indexOf("--config") + 1];
  check(copies.some((a) => a[0] === "config/agentd.toml" && a.at(-1) === defCfg), `CMD --config ${defCfg} is not config/agentd.toml`);
  check(cmd.includes("0.0.0.0:8080") && cmd.includes("0.0.0.0:9090"), "CMD does not listen on 0.0.0.0:8080 and :9090");
  const pluginEnv = /AGENTD_PLUGIN_DIR=(\S+)/.exec(get("ENV").join(" "))?.[1];
  check(pluginEnv && copies.some((a) => a[0].includes("/src/build/plugins/") && a.at(-1).replace(/\/$/, "") === pluginEnv),
    `AGENTD_PLUGIN_DIR (${pluginEnv}) is not where the plugins are copied`);

  // The Deployment runs this image as this user, in directories the image creates.
  const dep = YAML.parse(fs.readFileSync(path.join(K8S, "deployment.yaml"), "utf8"));
  const c = dep.spec.template.spec.containers[0];
  check(dep.spec.template.spec.securityContext.runAsUser === uid && c.securityContext.runAsUser === uid,
    `the Deployment's runAsUser is not the image's UID ${uid}`);
  check(!c.command, "the Deployment replaces the image's ENTRYPOINT (tini)");
  check(c.args[0] === cmd[0], "the Deployment's args do not run the same subcommand as the image");
  for (const m of c.volumeMounts) {
    check(runs(final).includes(m.mountPath) || m.mountPath === "/tmp", `mount point ${m.mountPath} is not created in the image`);
  }
  const cm = YAML.parse(fs.readFileSync(path.join(K8S, "configmap.yaml"), "utf8"));
  check(cm.data["agentd.toml"].includes(`\${AGENTD_PLUGIN_DIR:-${pluginEnv}}`),
    "the ConfigMap's plugin directory is not the image's");
  check(copiedTo(`${pluginEnv}/x.so`), "plugins are not copied into the image's plugin directory");

  // runtime-packages.sh finds an installed owner for every library agentd and the plugins load.
  const elves = [opt.agentd, ...fs.readdirSync(opt["plugin-dir"]).filter((f) => f.endsWith(".so"))
    .map((f) => path.join(opt["plugin-dir"], f))];
  const r = run(path.join(ROOT, "deploy/runtime-packages.sh"), elves, process.env);
  if (!check(r.code === 0, `runtime-packages.sh failed:\n${r.out}`)) return;
  const pkgs = r.out.trim().split("\n");
  for (const p of ["libc6", "libstdc++6", "libcurl4", "libssl3"]) check(pkgs.includes(p), `runtime packages lack ${p}: ${pkgs.join(" ")}`);
  for (const p of pkgs) {
    const st = run("dpkg-query", ["-W", "-f=${Status}", p], process.env);
    check(st.out.includes("install ok installed"), `runtime package ${p} is not an installed package`);
  }
  const libs = new Set();
  for (const e of elves) {
    for (const m of run("ldd", [e], process.env).out.matchAll(/=> (\/\S+)/g)) libs.add(m[1]);
  }
  // Independently of the script: who owns each library, by file name (one dpkg query).
  const bases = [...libs].map((l) => path.basename(l));
  const owners = {};
  for (const line of run("dpkg-query", ["-S", ...bases.map((b) => `*/${b}`)], process.env).out.split("\n")) {
    const m = /^(.+?): (\/\S+)$/.exec(line);
    if (!m) continue;
    for (const pkg of m[1].split(", ")) (owners[path.basename(m[2])] ??= new Set()).add(pkg.split(":")[0]);
  }
  for (const lib of libs) {
    const o = [...(owners[path.basename(lib)] ?? [])];
    check(o.some((x) => pkgs.includes(x)), `${lib} is provided by ${o.join("|") || "nothing"}, not in the runtime list`);
  }
  check(libs.size >= 10, `ldd found only ${libs.size} libraries`);
}

// ---------------------------------------------------------------- main

const opt = args(process.argv.slice(2));
const what = opt._[0];
try {
  if (what === "manifests") await manifests(opt);
  else if (what === "rules") rules(opt._[1]);
  else if (what === "dashboard") dashboard();
  else if (what === "dockerfile") dockerfile(opt);
  else {
    console.error("usage: check.mjs manifests|rules OUT|dashboard|dockerfile [options]");
    process.exit(2);
  }
} catch (e) {
  fail(e.stack ?? String(e));
}
finish(what);
