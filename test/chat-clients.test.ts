import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { ChatOpenAI } from '@langchain/openai';
import { jsonSchema, stepCountIs, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { api } from './support/api.js';
import { createCanaryTenant } from './support/canary-tenant.js';
import { freshId } from './support/db.js';
import { testConfig } from './support/env.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';
import {
  startOpenAiServer,
  type ChatReply,
  type ChatRequestBody,
  type OpenAiServer,
  llmEnv,
} from './support/openai-server.js';

const QUESTION = 'What does the protocol say about valve replacement?';
const LOGPROBS = {
  content: [{ token: 'Per', logprob: -0.25, bytes: [80, 101, 114], top_logprobs: [] }],
  refusal: null,
};

/**
 * The model: calls `lookup_dose` when offered it (until it has the result), answers JSON when
 * asked for a format, logprobs when asked for them, and otherwise cites the passage's canary.
 */
function model(request: ChatRequestBody): ChatReply {
  const last = request.messages.at(-1);
  if (last?.role === 'tool') return `The dose is ${String(last.content)} [1].`;
  if (request.tools !== undefined) {
    return {
      tool_calls: [
        {
          id: `call_${randomUUID().slice(0, 8)}`,
          type: 'function',
          function: { name: 'lookup_dose', arguments: '{"drug":"heparin"}' },
        },
      ],
    };
  }
  if (request.response_format !== undefined) return { content: '{"preferred": "transcatheter"}' };
  const text = request.messages.map((m) => (typeof m.content === 'string' ? m.content : ''));
  const canary = /CANARY-[0-9a-f-]+/.exec(text.join('\n'))?.[0] ?? 'none';
  const answer = `Per [1] transcatheter replacement is preferred, reference ${canary}.`;
  return request.logprobs === true ? { content: answer, logprobs: LOGPROBS } : answer;
}

/**
 * Three real clients pointed at the gateway as at any OpenAI-compatible endpoint: the official
 * `openai` SDK, the AI SDK (`streamText` with a tool) and LangChain (`ChatOpenAI.stream()`).
 */
describe('chat through real OpenAI clients', () => {
  let idp: TestIdentityProvider;
  let llm: OpenAiServer;
  let gateway: RunningGateway;
  let operator: string;
  const tenants: { id: string; canary: string; user: string }[] = [];
  const msp = freshId('msp');

  const call = (token: string, method: string, path: string, body?: unknown) =>
    api(gateway.url, token, method, path, body);
  const chatRequests = () => llm.requests.filter((r) => r.path === '/v1/chat/completions');

  const newTenant = async (topic: string) => {
    const tenant = await createCanaryTenant(gateway.url, idp, operator, {
      prefix: 'clnt',
      topic,
      title: `Protocol ${topic}`,
    });
    tenants.push(tenant);
    return tenant;
  };

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    llm = await startOpenAiServer({ answer: model });
    gateway = await startGateway(testConfig({ ...idp.env, ...llmEnv(llm.url) }));
    operator = await idp.token({ msp_id: msp, roles: ['operator'] });
    await newTenant('cardiology');
    await newTenant('cardiac surgery');
  });
  afterAll(async () => {
    for (const { id } of tenants) await call(operator, 'DELETE', `/v1/tenants/${id}`);
    await gateway.close();
    await llm.close();
    await idp.close();
  });

  it('AI SDK: streamText runs a tool round trip and streams the tenant’s own answer', async () => {
    const [a, b] = tenants as [(typeof tenants)[0], (typeof tenants)[0]];
    const provider = createOpenAICompatible({
      name: 'isogate',
      baseURL: `${gateway.url}/v1`,
      apiKey: a.user,
      includeUsage: true,
    });
    const executed: unknown[] = [];
    const result = streamText({
      model: provider.chatModel('test-chat'),
      prompt: `${QUESTION} What dose of heparin?`,
      maxRetries: 0,
      tools: {
        lookup_dose: tool({
          description: 'Looks up the dose of a drug',
          inputSchema: jsonSchema<{ drug: string }>({
            type: 'object',
            properties: { drug: { type: 'string' } },
            required: ['drug'],
          }),
          execute: async (input) => {
            executed.push(input);
            return '5000 units';
          },
        }),
      },
      stopWhen: stepCountIs(3),
    });
    let streamed = '';
    for await (const delta of result.textStream) streamed += delta;
    expect(executed).toEqual([{ drug: 'heparin' }]);
    expect(streamed).toContain('The dose is');
    expect(streamed).toContain('5000 units');
    // The tool result went back as a `tool` message, through the gateway, to the model.
    const answered = chatRequests().at(-1)?.body as ChatRequestBody;
    expect(answered.messages.some((m) => m.role === 'tool')).toBe(true);

    // Control: without tools the other tenant's client streams its own passage, not this one's.
    const other = createOpenAICompatible({
      name: 'isogate',
      baseURL: `${gateway.url}/v1`,
      apiKey: b.user,
    });
    const plain = streamText({
      model: other.chatModel('test-chat'),
      prompt: QUESTION,
      maxRetries: 0,
    });
    let theirs = '';
    for await (const delta of plain.textStream) theirs += delta;
    expect(theirs).toContain(b.canary);
    expect(theirs).not.toContain(a.canary);
  });

  it('LangChain: ChatOpenAI.stream() streams the tenant’s own answer in several chunks', async () => {
    const [a, b] = tenants as [(typeof tenants)[0], (typeof tenants)[0]];
    const chat = (token: string) =>
      new ChatOpenAI({
        model: 'test-chat',
        apiKey: token,
        configuration: { baseURL: `${gateway.url}/v1` },
        maxRetries: 0,
      });
    const pieces: string[] = [];
    for await (const chunk of await chat(a.user).stream(QUESTION)) {
      if (typeof chunk.content === 'string' && chunk.content !== '') pieces.push(chunk.content);
    }
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join('')).toContain(a.canary);
    const theirs = (await chat(b.user).invoke(QUESTION)).text;
    expect(theirs).toContain(b.canary);
    expect(theirs).not.toContain(a.canary);
  });

  it('openai SDK: streamed logprobs and a streamed JSON-schema answer', async () => {
    const [a] = tenants as [(typeof tenants)[0]];
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: a.user, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'test-chat',
      messages: [{ role: 'user', content: `${QUESTION} (logprobs)` }],
      stream: true,
      logprobs: true,
    });
    const logprobs: unknown[] = [];
    for await (const chunk of stream) logprobs.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    expect(logprobs).toEqual(LOGPROBS.content);
    const sent = chatRequests().at(-1)?.body as ChatRequestBody;
    expect(sent).toMatchObject({ stream: true, logprobs: true });

    const structured = await client.chat.completions
      .stream({
        model: 'test-chat',
        messages: [{ role: 'user', content: `${QUESTION} (json)` }],
        response_format: {
          type: 'json_schema',
          json_schema: {
            name: 'answer',
            strict: true,
            schema: {
              type: 'object',
              properties: { preferred: { type: 'string' } },
              required: ['preferred'],
              additionalProperties: false,
            },
          },
        },
      })
      .finalChatCompletion();
    expect(JSON.parse(structured.choices[0]?.message.content ?? '')).toEqual({
      preferred: 'transcatheter',
    });
    expect(chatRequests().at(-1)?.body).toMatchObject({
      stream: true,
      response_format: { type: 'json_schema', json_schema: { name: 'answer' } },
    });
  });
});
