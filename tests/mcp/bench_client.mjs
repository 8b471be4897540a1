// The official TypeScript SDK client doing what tests/integration/mcp/mcp_call_bench.cc does:
// spawn server-everything over stdio and call `echo` one call at a time.
// Usage: node bench_client.mjs [CALLS] [WARMUP]; prints one JSON object.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const calls = Number(process.argv[2] ?? 5000);
const warmup = Number(process.argv[3] ?? 500);
const here = dirname(fileURLToPath(import.meta.url));
const everything = join(here, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const sdkVersion = JSON.parse(
  readFileSync(join(here, 'node_modules/@modelcontextprotocol/sdk/package.json'), 'utf8')).version;

const client = new Client({ name: 'bench', version: '1.0.0' }, { capabilities: {} });
await client.connect(new StdioClientTransport({
  command: process.execPath, args: [everything, 'stdio'], stderr: 'ignore',
}));
const call = () => client.callTool({ name: 'echo', arguments: { message: 'hello' } });
for (let i = 0; i < warmup; i++) await call();
const us = [];
const start = process.hrtime.bigint();
for (let i = 0; i < calls; i++) {
  const t0 = process.hrtime.bigint();
  const r = await call();
  us.push(Number(process.hrtime.bigint() - t0) / 1000);
  if (r.content?.[0]?.text !== 'Echo: hello') throw new Error(`unexpected result ${JSON.stringify(r)}`);
}
const total = Number(process.hrtime.bigint() - start) / 1e9;
await client.close();
us.sort((a, b) => a - b);
const pct = (p) => us[Math.min(us.length - 1, Math.floor(p * us.length))];
console.log(JSON.stringify({
  client: 'typescript-sdk', sdk_version: sdkVersion, calls,
  p50_us: +pct(0.5).toFixed(1), p99_us: +pct(0.99).toFixed(1), calls_per_s: +(calls / total).toFixed(1),
}));
