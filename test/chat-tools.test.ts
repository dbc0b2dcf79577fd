import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomUUID } from 'node:crypto';
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

interface Tenant {
  id: string;
  canary: string;
  user: string;
  auditor: string;
}

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_patient_record',
    description: 'Reads a patient record by the patient e-mail address',
    parameters: {
      type: 'object',
      properties: { email: { type: 'string' } },
      required: ['email'],
    },
  },
} as const;
const EMAIL = 'jane.doe@example.org';
const SSN = '123-45-6789';
const QUESTION = 'What does the protocol say about valve replacement?';

/**
 * A model that calls the first tool it is offered with an e-mail in the arguments, and answers
 * in text once the conversation ends with a tool result.
 */
function toolAnswer(request: ChatRequestBody): ChatReply {
  const last = request.messages.at(-1);
  const tools = request.tools as { function: { name: string } }[] | undefined;
  if (last?.role === 'tool') return { content: `From the record: ${String(last.content)}` };
  if (tools !== undefined && request.tool_choice !== 'none') {
    const call = { id: `call_${randomUUID().slice(0, 8)}`, type: 'function' as const };
    const args = JSON.stringify({ email: EMAIL });
    return {
      tool_calls: [
        { ...call, function: { name: tools[0]?.function.name ?? 'f', arguments: args } },
      ],
    };
  }
  if (request.response_format !== undefined) return { content: '{"answer":"yes"}' };
  if (request.logprobs === true) {
    return {
      content: 'ok',
      logprobs: { content: [{ token: 'ok', logprob: -0.1, bytes: [111, 107], top_logprobs: [] }] },
    };
  }
  return 'plain answer [1]';
}

describe('chat completions with tools, response formats and logprobs', () => {
  let idp: TestIdentityProvider;
  let llm: OpenAiServer;
  let gateway: RunningGateway;
  let operator: string;
  let redacting: Tenant;
  let open: Tenant;
  const msp = freshId('msp');
  const tenants: string[] = [];

  const call = (token: string, method: string, path: string, body?: unknown, url = gateway.url) =>
    api(url, token, method, path, body);
  const chat = (token: string, body: Record<string, unknown>, url = gateway.url) =>
    call(token, 'POST', '/v1/chat/completions', { model: 'test-chat', ...body }, url);
  const ask = (question: string) => ({ messages: [{ role: 'user', content: question }] });
  const chatRequests = () => llm.requests.filter((r) => r.path === '/v1/chat/completions');
  const lastSent = () => chatRequests().at(-1)?.body as ChatRequestBody;
  const sdk = (tenant: Tenant) =>
    new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: tenant.user, maxRetries: 0 });

  const newTenant = async (pii: 'off' | 'redact'): Promise<Tenant> => {
    const tenant = await createCanaryTenant(gateway.url, idp, operator, {
      prefix: 'tools',
      tenant: { pii },
    });
    tenants.push(tenant.id);
    return tenant;
  };

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    llm = await startOpenAiServer({ answer: toolAnswer });
    gateway = await startGateway(
      testConfig({
        ...idp.env,
        ...llmEnv(llm.url),
      }),
    );
    operator = await idp.token({ msp_id: msp, roles: ['operator'] });
    redacting = await newTenant('redact');
    open = await newTenant('off');
  });
  afterAll(async () => {
    for (const id of tenants) await call(operator, 'DELETE', `/v1/tenants/${id}`);
    await gateway.close();
    await llm.close();
    await idp.close();
  });

  it('makes a full tool-call round trip through the official SDK, the tenant’s passages included', async () => {
    const client = sdk(open);
    const question = { role: 'user' as const, content: `${QUESTION} (round trip)` };
    const first = await client.chat.completions.create({
      model: 'test-chat',
      messages: [question],
      tools: [WEATHER_TOOL],
      tool_choice: 'auto',
      parallel_tool_calls: false,
    });
    const asked = first.choices[0];
    expect(asked?.finish_reason).toBe('tool_calls');
    expect(asked?.message.content).toBeNull();
    const toolCall = asked?.message.tool_calls?.[0];
    expect(toolCall).toMatchObject({ type: 'function', function: { name: 'get_patient_record' } });
    // The upstream got the tools as they were sent, with the tenant's passages before them.
    const sentFirst = lastSent();
    expect(sentFirst.tools).toEqual([WEATHER_TOOL]);
    expect(sentFirst.tool_choice).toBe('auto');
    expect(sentFirst.parallel_tool_calls).toBe(false);
    expect(JSON.stringify(sentFirst.messages)).toContain(open.canary);

    const id = toolCall?.id ?? '';
    const second = await client.chat.completions.create({
      model: 'test-chat',
      messages: [
        question,
        // The answer's message sent back as it came, as SDK examples do (refusal: null and all).
        asked?.message ?? { role: 'assistant', content: '' },
        { role: 'tool', tool_call_id: id, content: 'Record: valve replaced in 2024.' },
      ],
      tools: [WEATHER_TOOL],
    });
    expect(second.choices[0]?.message.content).toBe(
      'From the record: Record: valve replaced in 2024.',
    );
    expect(second.choices[0]?.finish_reason).toBe('stop');
    const sent = lastSent().messages as readonly Record<string, unknown>[];
    expect(sent.at(-2)).toMatchObject({
      role: 'assistant',
      tool_calls: [{ id, type: 'function' }],
    });
    expect(sent.at(-1)).toEqual({
      role: 'tool',
      tool_call_id: id,
      content: 'Record: valve replaced in 2024.',
    });

    // The interaction record holds the tool call the model asked for.
    const records = await call(open.auditor, 'GET', '/v1/audit/interactions?limit=100');
    const answers = (records.body.data as { content: { answer: string } | null }[]).map(
      (r) => r.content?.answer ?? '',
    );
    expect(answers.some((a) => a.includes(id) && a.includes('get_patient_record'))).toBe(true);
    // And the tools the model was offered, with the messages it got.
    const prompts = (records.body.data as { content: { prompt: string } | null }[]).map(
      (r) => r.content?.prompt ?? '',
    );
    expect(prompts.some((p) => p.includes(WEATHER_TOOL.function.description))).toBe(true);
  });

  it('applies the tenant’s PII rules to tool arguments, tool results and tool descriptions', async () => {
    const conversation = (tag: string) => [
      { role: 'user', content: `${QUESTION} (${tag})` },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_pii',
            type: 'function',
            function: { name: 'get_patient_record', arguments: JSON.stringify({ email: EMAIL }) },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_pii', content: `SSN ${SSN}, contact ${EMAIL}` },
    ];
    const tool = {
      ...WEATHER_TOOL,
      function: { ...WEATHER_TOOL.function, description: `Ask ${EMAIL} for access` },
    };
    const redacted = await chat(redacting.user, {
      messages: conversation('pii redact'),
      tools: [tool],
    });
    expect(redacted.status).toBe(200);
    const sent = JSON.stringify(lastSent());
    expect(sent).not.toContain(EMAIL);
    expect(sent).not.toContain(SSN);
    const messages = lastSent().messages as readonly Record<string, unknown>[];
    expect(messages.at(-2)).toMatchObject({
      tool_calls: [{ function: { arguments: JSON.stringify({ email: '[EMAIL]' }) } }],
    });
    expect(messages.at(-1)).toMatchObject({ content: 'SSN [SSN], contact [EMAIL]' });
    // Control: a tenant whose PII rules are off sends them as they are.
    const passed = await chat(open.user, { messages: conversation('pii off'), tools: [tool] });
    expect(passed.status).toBe(200);
    const sentOpen = JSON.stringify(lastSent());
    expect(sentOpen).toContain(EMAIL);
    expect(sentOpen).toContain(SSN);
  });

  it('passes response_format json_schema and logprobs through', async () => {
    const format = {
      type: 'json_schema',
      json_schema: {
        name: 'answer',
        strict: true,
        schema: {
          type: 'object',
          properties: { answer: { type: 'string' } },
          required: ['answer'],
        },
      },
    } as const;
    const answer = await sdk(open).chat.completions.create({
      model: 'test-chat',
      messages: [{ role: 'user', content: `${QUESTION} (json schema)` }],
      response_format: format,
    });
    expect(answer.choices[0]?.message.content).toBe('{"answer":"yes"}');
    expect(lastSent().response_format).toEqual(format);
    const objectFormat = await chat(open.user, {
      ...ask(`${QUESTION} (json object)`),
      response_format: { type: 'json_object' },
    });
    expect(objectFormat.status).toBe(200);
    expect(lastSent().response_format).toEqual({ type: 'json_object' });

    const withLogprobs = await sdk(open).chat.completions.create({
      model: 'test-chat',
      messages: [{ role: 'user', content: `${QUESTION} (logprobs)` }],
      logprobs: true,
      top_logprobs: 2,
    });
    expect(lastSent()).toMatchObject({ logprobs: true, top_logprobs: 2 });
    expect(withLogprobs.choices[0]?.logprobs?.content?.[0]).toMatchObject({ token: 'ok' });
  });

  it('refuses what it does not honour with 422 and a code, unknown fields with 400 naming them', async () => {
    const calls = chatRequests().length;
    const image = {
      role: 'user',
      content: [
        { type: 'text', text: 'What is this?' },
        { type: 'image_url', image_url: { url: 'https://example.org/x.png' } },
      ],
    };
    const many = Array.from({ length: 129 }, (_, i) => ({
      type: 'function',
      function: { name: `f${i}` },
    }));
    const cases: [Record<string, unknown>, number, string, string][] = [
      [{ ...ask('q'), n: 2 }, 422, 'unsupported_parameter', 'n'],
      [{ ...ask('q'), n: 1000 }, 422, 'unsupported_parameter', 'n'],
      [{ messages: [image] }, 422, 'images_disabled', 'messages.0.content.1'],
      [{ ...ask('q'), frobnicate: true }, 400, 'invalid_request', 'frobnicate'],
      [{ ...ask('q'), functions: [] }, 400, 'invalid_request', 'functions'],
      [{ ...ask('q'), tools: many }, 400, 'invalid_request', 'tools'],
      [
        {
          ...ask('q'),
          tools: [WEATHER_TOOL],
          tool_choice: { type: 'function', function: { name: 'nope' } },
        },
        400,
        'invalid_request',
        'tool_choice',
      ],
      [{ ...ask('q'), tool_choice: 'auto' }, 400, 'invalid_request', 'tool_choice'],
      [{ ...ask('q'), top_logprobs: 2 }, 400, 'invalid_request', 'top_logprobs'],
      [
        { ...ask('q'), response_format: { type: 'yaml' } },
        400,
        'invalid_request',
        'response_format.type',
      ],
      [
        { messages: [{ role: 'tool', content: 'x' }] },
        400,
        'invalid_request',
        'messages.0.tool_call_id',
      ],
    ];
    for (const [body, status, code, param] of cases) {
      const answer = await chat(open.user, body);
      expect({
        body: JSON.stringify(body).slice(0, 80),
        status: answer.status,
        error: answer.body.error,
      }).toMatchObject({
        status,
        error: { code, param },
      });
    }
    expect(chatRequests().length).toBe(calls);
    // The SDK surfaces the code as OpenAI's errors do.
    await expect(
      sdk(open).chat.completions.create({ model: 'test-chat', n: 2, ...ask('q') } as never),
    ).rejects.toMatchObject({ status: 422, code: 'unsupported_parameter' });
  });

  it('passes image parts to the model once the operator turns them on, recording only their hash', async () => {
    const pixel = `data:image/png;base64,${Buffer.from(`PNG-${randomUUID()}`).toString('base64')}`;
    const body = {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: `What does this scan show? ${EMAIL}` },
            { type: 'image_url', image_url: { url: pixel, detail: 'low' } },
          ],
        },
      ],
    };
    const calls = chatRequests().length;
    const refused = await chat(redacting.user, body);
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: 'images_disabled' });
    expect(chatRequests().length).toBe(calls);

    const patched = await call(operator, 'PATCH', `/v1/tenants/${redacting.id}`, { images: true });
    expect(patched.body).toMatchObject({ images: true });
    // The change reaches the request path within the state cache's 2 s.
    let answered = await chat(redacting.user, body);
    for (let i = 0; answered.status === 422 && i < 40; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      answered = await chat(redacting.user, body);
    }
    expect(answered.status).toBe(200);
    const sent = lastSent().messages.at(-1) as { content: { type: string; text?: string }[] };
    expect(sent.content).toEqual([
      { type: 'text', text: expect.not.stringContaining(EMAIL) },
      { type: 'image_url', image_url: { url: pixel, detail: 'low' } },
    ]);
    // On record: the image's hash, never the image.
    const digest = createHash('sha256').update(pixel).digest('hex');
    const page = await call(redacting.auditor, 'GET', '/v1/audit/interactions?limit=1000');
    const record = JSON.stringify(page.body.data);
    expect(record).toContain(digest);
    expect(record).not.toContain(pixel.slice(-20));
    const events = await call(redacting.auditor, 'GET', '/v1/audit/events?limit=1000');
    expect(JSON.stringify(events.body)).not.toContain(pixel.slice(-20));
    // Control: the other tenant, whose operator did not turn images on, is still refused.
    expect((await chat(open.user, body)).body.error).toMatchObject({ code: 'images_disabled' });
    await call(operator, 'PATCH', `/v1/tenants/${redacting.id}`, { images: false });
  });

  it('caches per tools: the same messages with other tools are a miss', async () => {
    const question = ask(`${QUESTION} (cache tools)`);
    const other = {
      type: 'function',
      function: { name: 'other_tool', parameters: { type: 'object' } },
    };
    const calls = () => chatRequests().length;
    const start = calls();
    const plain = await chat(open.user, question);
    expect(plain.body).toMatchObject({ choices: [{ message: { content: 'plain answer [1]' } }] });
    const first = await chat(open.user, { ...question, tools: [WEATHER_TOOL] });
    expect(calls()).toBe(start + 2);
    const firstName = (
      first.body.choices as { message: { tool_calls: { function: { name: string } }[] } }[]
    )[0]?.message.tool_calls[0]?.function.name;
    expect(firstName).toBe('get_patient_record');
    // The same tools again: a hit, with the same tool calls.
    const again = await chat(open.user, { ...question, tools: [WEATHER_TOOL] });
    expect(calls()).toBe(start + 2);
    expect(again.body.choices).toEqual(first.body.choices);
    // Other tools, another tool choice, another format: each a miss.
    const otherTools = await chat(open.user, { ...question, tools: [other] });
    expect(calls()).toBe(start + 3);
    expect(JSON.stringify(otherTools.body)).toContain('other_tool');
    expect(JSON.stringify(otherTools.body)).not.toContain('get_patient_record');
    await chat(open.user, { ...question, tools: [WEATHER_TOOL], tool_choice: 'none' });
    expect(calls()).toBe(start + 4);
    await chat(open.user, { ...question, response_format: { type: 'json_object' } });
    expect(calls()).toBe(start + 5);
  });

  it('answers extractively without tool calls when no model is configured, and refuses forced ones', async () => {
    const extractive = await startGateway(testConfig({ ...idp.env, LLM_MODEL: 'test-chat' }));
    try {
      const answer = await chat(
        open.user,
        { ...ask(QUESTION), tools: [WEATHER_TOOL] },
        extractive.url,
      );
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({
        extractive: true,
        choices: [
          { finish_reason: 'stop', message: { content: expect.stringContaining(open.canary) } },
        ],
      });
      expect(JSON.stringify(answer.body)).not.toContain('tool_calls');
      for (const [extra, param] of [
        [{ tools: [WEATHER_TOOL], tool_choice: 'required' }, 'tool_choice'],
        [{ response_format: { type: 'json_object' } }, 'response_format'],
        [{ logprobs: true }, 'logprobs'],
      ] as const) {
        const refused = await chat(open.user, { ...ask(QUESTION), ...extra }, extractive.url);
        expect({ status: refused.status, error: refused.body.error }).toMatchObject({
          status: 422,
          error: { code: 'unsupported_parameter', param },
        });
      }
    } finally {
      await extractive.close();
    }
  });
});
