// Start-up peer for scripts/bench_system.py: a Node service built on a peer framework, ready
// once the framework is imported and an HTTP server on 127.0.0.1:0 answers /readyz 200.
// Usage: node ready_server.mjs openai_agents|ai. Prints "listening on 127.0.0.1:PORT" on stderr.
import http from 'node:http';

const which = process.argv[2];
if (which === 'openai_agents') {
  const { setTracingDisabled } = await import('@openai/agents');
  await import('openai');
  setTracingDisabled(true);
} else if (which === 'ai') {
  await import('ai');
  await import('@ai-sdk/openai-compatible');
} else {
  console.error('usage: node ready_server.mjs openai_agents|ai');
  process.exit(2);
}
const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/readyz' ? 200 : 404, { 'content-type': 'application/json' });
  res.end('{"status":"ok"}');
});
server.listen(0, '127.0.0.1', () => {
  console.error(`listening on 127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
