// Shared by the peer scripts: arguments, a fetch that notes when the first request of a run
// leaves, and the JSON line each script prints. Usage of a peer script:
//   node PEER.mjs BASE_URL KEY [WARM_RUNS]
// BASE_URL is the fake model server's OpenAI base (http://127.0.0.1:PORT/v1). The first run
// uses header x-fake-key KEY; warm run i (same process, after the first) uses KEY-wI.
export const TOOL_TURNS = 10;
export const TASK = 'run the steps';
export const INSTRUCTIONS = 'You are a careful agent. Use the tools when asked.';

export function args() {
  const [baseURL, key, warm] = process.argv.slice(2);
  if (!baseURL || !key) {
    console.error('usage: node PEER.mjs BASE_URL KEY [WARM_RUNS]');
    process.exit(2);
  }
  return { baseURL, key, warmRuns: Number(warm ?? 0) };
}

export function headersFor(key) {
  return { 'x-fake-key': key, 'x-fake-tool-turns': String(TOOL_TURNS) };
}

import { readFileSync } from 'node:fs';

// The installed version of an npm package (read from node_modules; not every package exports
// its package.json).
export function versionOf(name) {
  const url = new URL(`./node_modules/${name}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')).version;
}

const monoMs = () => Number(process.hrtime.bigint()) / 1e6;  // CLOCK_MONOTONIC, like Python's

// A fetch that counts requests and notes the time the first one is sent.
export function timedFetch() {
  const t = { first: null, requests: 0 };
  const f = (input, init) => {
    if (t.first === null) t.first = monoMs();
    t.requests += 1;
    return fetch(input, init);
  };
  return { fetch: f, timing: t };
}

// Runs once cold, then warmRuns more times in the same process; prints one JSON line.
// runOnce(key, fetch) must resolve to the final answer text.
export async function measure(framework, version, runOnce) {
  const { key, warmRuns } = args();
  const one = async (k) => {
    const { fetch: f, timing } = timedFetch();
    const text = await runOnce(k, f);
    const end = monoMs();
    return { loop_ms: end - timing.first, requests: timing.requests, first_request_mono_ms: timing.first, text };
  };
  const cold = await one(key);
  const warm = [];
  for (let i = 0; i < warmRuns; ++i) warm.push((await one(`${key}-w${i}`)).loop_ms);
  process.stdout.write(JSON.stringify({ framework, version, ...cold, warm_loop_ms: warm,
                                        node: process.version }) + '\n');
}
