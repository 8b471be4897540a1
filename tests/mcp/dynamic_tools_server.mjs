// A stdio MCP server built on the official TypeScript SDK whose tool list changes at run time:
// `add_tool {name}` registers a tool NAME (which echoes its `text`) and `remove_tool {name}`
// removes it; the SDK announces each change with notifications/tools/list_changed. `slow` lets
// tests see cancellation arrive at the server. Used by agentd's MCP tests.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'dynamic-tools', version: '1.0.0' },
                             { capabilities: { tools: { listChanged: true } } });
const added = new Map();

server.registerTool('add_tool', {
  description: 'Registers a new tool that echoes its text.',
  inputSchema: { name: z.string() },
}, async ({ name }) => {
  if (!added.has(name)) {
    added.set(name, server.registerTool(name, {
      description: `Echo tool ${name}`,
      inputSchema: { text: z.string() },
    }, async ({ text }) => ({ content: [{ type: 'text', text: `${name}: ${text}` }] })));
  }
  return { content: [{ type: 'text', text: `added ${name}` }] };
});

server.registerTool('remove_tool', {
  description: 'Removes a tool added with add_tool.',
  inputSchema: { name: z.string() },
}, async ({ name }) => {
  added.get(name)?.remove();
  added.delete(name);
  return { content: [{ type: 'text', text: `removed ${name}` }] };
});

// Runs for `seconds`, reporting progress every 100 ms; logs to stderr when cancelled.
server.registerTool('slow', {
  description: 'Runs for a while, reporting progress; says on stderr when it is cancelled.',
  inputSchema: { seconds: z.number() },
}, async ({ seconds }, extra) => {
  const steps = Math.max(1, Math.round(seconds * 10));
  for (let i = 1; i <= steps; i++) {
    if (extra.signal.aborted) {
      console.error(`slow: cancelled (${extra.signal.reason})`);
      return { content: [{ type: 'text', text: 'cancelled' }] };
    }
    await new Promise((r) => setTimeout(r, 100));
    if (extra._meta?.progressToken !== undefined) {
      await extra.sendNotification({ method: 'notifications/progress',
        params: { progressToken: extra._meta.progressToken, progress: i, total: steps } });
    }
  }
  return { content: [{ type: 'text', text: `slept ${seconds} s` }] };
});

await server.connect(new StdioServerTransport());
