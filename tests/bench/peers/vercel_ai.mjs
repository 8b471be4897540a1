// The 10-tool-call task run by the Vercel AI SDK: generateText with one tool `noop` (no
// parameters, returns "") and a step limit, through @ai-sdk/openai-compatible (Chat
// Completions) pointed at the fake model server. See common.mjs for arguments and output.
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, stepCountIs, tool } from 'ai';
import { z } from 'zod';
import { INSTRUCTIONS, TASK, args, headersFor, measure, versionOf } from './common.mjs';

const { baseURL } = args();
const version = versionOf('ai');

const tools = {
  noop: tool({ description: 'Does nothing.', inputSchema: z.object({}), execute: async () => '' }),
};

await measure('ai', version, async (key, fetch) => {
  const provider = createOpenAICompatible({ name: 'fake', baseURL, apiKey: 'k',
                                            headers: headersFor(key), fetch });
  const result = await generateText({
    model: provider.chatModel('fake-model'),
    system: INSTRUCTIONS,
    prompt: TASK,
    tools,
    stopWhen: stepCountIs(15),
    maxRetries: 0,
  });
  return result.text;
});
