// The 10-tool-call task run by the OpenAI Agents SDK (JavaScript): Agent + run with one tool
// `noop` (no parameters, returns ""), Chat Completions through an OpenAI client pointed at the
// fake model server, tracing disabled. See common.mjs for arguments and output.
import { Agent, OpenAIChatCompletionsModel, run, setTracingDisabled, tool } from '@openai/agents';
import OpenAI from 'openai';
import { z } from 'zod';
import { INSTRUCTIONS, TASK, args, headersFor, measure, versionOf } from './common.mjs';

setTracingDisabled(true);
const { baseURL } = args();
const version = versionOf('@openai/agents');

const noop = tool({
  name: 'noop',
  description: 'Does nothing.',
  parameters: z.object({}),
  execute: async () => '',
});

await measure('@openai/agents', version, async (key, fetch) => {
  const client = new OpenAI({ apiKey: 'k', baseURL, defaultHeaders: headersFor(key), fetch,
                              maxRetries: 0 });
  const agent = new Agent({
    name: 'bench',
    instructions: INSTRUCTIONS,
    model: new OpenAIChatCompletionsModel(client, 'fake-model'),
    tools: [noop],
  });
  const result = await run(agent, TASK, { maxTurns: 15 });
  return result.finalOutput;
});
