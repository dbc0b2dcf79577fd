import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import OpenAI from 'openai';
import { api } from './support/api.js';
import { createCanaryTenant } from './support/canary-tenant.js';
import { chainEvents, type AuditRow } from './support/audit.js';
import { freshId, testPool } from './support/db.js';
import { requireTestEnv, testConfig } from './support/env.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';
import {
  startOpenAiServer,
  type ChatReply,
  type ChatRequestBody,
  type OpenAiServer,
  llmEnv,
} from './support/openai-server.js';
import { TcpProxy } from './support/tcp-proxy.js';

interface Tenant {
  id: string;
  canary: string;
  admin: string;
  user: string;
  auditor: string;
}
interface Citation {
  document_id: string;
  chunk_index: number;
  title: string;
}
type Chunk = OpenAI.ChatCompletionChunk & { citations?: Citation[]; extractive?: boolean };

const QUESTION = 'What does the protocol say about valve replacement?';
const EXFILTRATION =
  'See [the chart](https://evil.example/c?d=secret) and ![x](https://evil.example/p.png) or www.evil.example/q.';
const LOOKUP_TOOL = {
  type: 'function',
  function: {
    name: 'lookup_dose',
    description: 'Looks up a dose',
    parameters: { type: 'object', properties: { drug: { type: 'string' } } },
  },
} as const;

/**
 * The model: a tool call when offered a tool, a text from the tool result after it, a fixed
 * answer with foreign links when asked about exfiltration, and otherwise an answer that cites
 * the canary of the passage it was given, in a dozen words (so a dozen deltas).
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
  const text = request.messages.map((m) => (typeof m.content === 'string' ? m.content : ''));
  const question = text.at(-1) ?? '';
  if (question.includes('exfiltration')) return EXFILTRATION;
  if (question.includes('backpressure')) return LONG_ANSWER;
  if (question.includes('too long')) return `${'x'.repeat(999)} `.repeat(2_100);
  const canary = /CANARY-[0-9a-f-]+/.exec(text.join('\n'))?.[0] ?? 'none';
  return `According to [1] the protocol prefers transcatheter replacement, reference ${canary}, for elderly patients.`;
}

/** Reads `iterator` up to the first chunk with content, and answers that content. */
async function firstContent(iterator: AsyncIterator<Chunk>): Promise<string> {
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) throw new Error('the stream ended before any content');
    const content = next.value.choices[0]?.delta.content ?? '';
    if (content !== '') return content;
  }
}

/**
 * 60,000 one-letter words (in paragraphs of 20), each event padded to 2 KB: 120 MB from the
 * model, more than the connections on the way can hold (the gateway's receive buffer from the
 * model may grow to 32 MB here), in an answer of only 150 KB.
 */
const LONG_WORDS = 60_000;
const PAD_BYTES = 2_048;
const LONG_ANSWER = Array.from({ length: LONG_WORDS }, (_, i) =>
  i % 20 === 19 ? 'w.\n\n' : 'w ',
).join('');

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Polls `probe` until it answers something other than undefined (a liveness bound, 10 s). */
async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  limitMs = 10_000,
): Promise<T> {
  for (let i = 0; i < limitMs / 50; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('condition not reached');
}

describe('streamed chat completions', () => {
  let idp: TestIdentityProvider;
  let llm: OpenAiServer;
  let gateway: RunningGateway;
  let operator: string;
  let a: Tenant;
  let b: Tenant;
  const msp = freshId('msp');
  const tenants: string[] = [];
  const owner = testPool('owner');
  const superuser = testPool('superuser');

  const call = (token: string, method: string, path: string, body?: unknown, url = gateway.url) =>
    api(url, token, method, path, body);
  const sdk = (token: string, url = gateway.url) =>
    new OpenAI({ baseURL: `${url}/v1`, apiKey: token, maxRetries: 0 });
  const ask = (question: string) => [{ role: 'user' as const, content: question }];
  const llmCalls = () => llm.requests.filter((r) => r.path === '/v1/chat/completions').length;
  const events = (tenant: Tenant, requestId: string) =>
    chainEvents(owner, { tenantId: tenant.id }, requestId);
  /** The stream's two events, once the end is written. */
  const streamEvents = (tenant: Tenant, requestId: string) =>
    eventually(async () => {
      const rows = await events(tenant, requestId);
      return rows.some((r) => r.action === 'chat.completed') ? rows : undefined;
    });
  const interaction = async (tenant: Tenant, requestId: string) => {
    const page = await call(tenant.auditor, 'GET', '/v1/audit/interactions?limit=1000');
    const items = page.body.data as { request_id: string; content: Record<string, unknown> }[];
    return items.find((i) => i.request_id === requestId);
  };
  /** Reads a stream to its end: the content, the chunks, and the error that ended it, if any. */
  const drain = async (stream: AsyncIterable<Chunk>) => {
    const chunks: Chunk[] = [];
    let content = '';
    let error: unknown;
    try {
      for await (const chunk of stream) {
        chunks.push(chunk);
        content += chunk.choices[0]?.delta.content ?? '';
      }
    } catch (caught) {
      error = caught;
    }
    return { chunks, content, error };
  };
  const open = async (tenant: Tenant, question: string, extra: object = {}, url = gateway.url) => {
    const { data, response } = await sdk(tenant.user, url)
      .chat.completions.create({
        model: 'test-chat',
        messages: ask(question),
        stream: true,
        ...extra,
      })
      .withResponse();
    return {
      stream: data as unknown as AsyncIterable<Chunk> & { controller: AbortController },
      requestId: response.headers.get('x-request-id') as string,
      response,
    };
  };

  const newTenant = async (topic: string): Promise<Tenant> => {
    const tenant = await createCanaryTenant(gateway.url, idp, operator, {
      prefix: 'strm',
      topic,
      title: `Protocol ${topic}`,
    });
    tenants.push(tenant.id);
    return tenant;
  };

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    llm = await startOpenAiServer({ answer: model });
    gateway = await startGateway(testConfig({ ...idp.env, ...llmEnv(llm.url) }));
    operator = await idp.token({ msp_id: msp, roles: ['operator'] });
    a = await newTenant('cardiology');
    b = await newTenant('cardiac surgery');
  });
  afterAll(async () => {
    for (const id of tenants) await call(operator, 'DELETE', `/v1/tenants/${id}`);
    await owner.end();
    await superuser.end();
    await gateway.close();
    await llm.close();
    await idp.close();
  });

  it('forwards each delta as the model sends it, then cites, and puts start and end on record', async () => {
    // The model sends the role and two words, then waits until the test lets it go on.
    llm.streamWith({ holdAfter: 3 });
    const finishedBefore = llm.streams.length;
    const { stream, requestId, response } = await open(a, `${QUESTION} (live)`, {
      stream_options: { include_usage: true },
    });
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const iterator = stream[Symbol.asyncIterator]();
    const first = await firstContent(iterator);
    // A delta arrived while the model was still generating: nothing was waiting for the end.
    expect(first.length).toBeGreaterThan(0);
    expect(llm.streams.length).toBe(finishedBefore);
    llm.release();
    const rest = await drain({ [Symbol.asyncIterator]: () => iterator });
    expect(rest.error).toBeUndefined();
    const content = first + rest.content;
    expect(content).toContain(a.canary);
    expect(content).not.toContain(b.canary);
    const last = rest.chunks.at(-1) as Chunk;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ total_tokens: expect.any(Number) });
    expect(last.citations).toEqual([
      { document_id: 'protocol', chunk_index: 0, title: 'Protocol cardiology' },
    ]);
    const finish = rest.chunks.find((c) => c.choices[0]?.finish_reason != null);
    expect(finish?.choices[0]?.finish_reason).toBe('stop');
    expect(new Set(rest.chunks.map((c) => c.id)).size).toBe(1);

    const [started, completed] = (await streamEvents(a, requestId)) as [AuditRow, AuditRow];
    expect(started).toMatchObject({ action: 'chat.started', status: 200, outcome: 'ok' });
    expect(started.details).toMatchObject({
      model: 'test-chat',
      stream: true,
      prompt_sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      chunks: [{ document_id: 'protocol', chunk_index: 0, sha256: expect.any(String) }],
    });
    expect(completed).toMatchObject({ action: 'chat.completed', outcome: 'ok' });
    expect(completed.details).toMatchObject({
      started_event_id: started.id,
      end: 'completed',
      finish_reason: 'stop',
      answer_sha256: sha256(content),
      usage: { prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) },
    });
    const record = await interaction(a, requestId);
    expect(record?.content).toEqual(expect.objectContaining({ answer: content }));
    expect(record?.content).not.toHaveProperty('partial');
    // The other tenant's chain has nothing of this request.
    expect(await chainEvents(owner, { tenantId: b.id }, requestId)).toEqual([]);
  });

  it('works with the SDK’s stream helper, for a text and for a tool-call round trip', async () => {
    const client = sdk(a.user);
    const text = await client.chat.completions
      .stream({ model: 'test-chat', messages: ask(`${QUESTION} (helper)`) })
      .finalChatCompletion();
    expect(text.choices[0]?.message.content).toContain(a.canary);

    const messages: OpenAI.ChatCompletionMessageParam[] = ask(`${QUESTION} (tool)`);
    const asked = await client.chat.completions
      .stream({ model: 'test-chat', messages, tools: [LOOKUP_TOOL] })
      .finalChatCompletion();
    const toolCall = asked.choices[0]?.message
      .tool_calls?.[0] as OpenAI.ChatCompletionMessageToolCall;
    expect(asked.choices[0]?.finish_reason).toBe('tool_calls');
    expect(toolCall).toMatchObject({
      type: 'function',
      function: { name: 'lookup_dose', arguments: '{"drug":"heparin"}' },
    });
    const answered = await client.chat.completions
      .stream({
        model: 'test-chat',
        tools: [LOOKUP_TOOL],
        messages: [
          ...messages,
          asked.choices[0]?.message as OpenAI.ChatCompletionMessageParam,
          { role: 'tool', tool_call_id: toolCall.id, content: '5000 units' },
        ],
      })
      .finalChatCompletion();
    expect(answered.choices[0]?.message.content).toBe('The dose is 5000 units [1].');
  });

  it('removes foreign links from a stream exactly as from a whole answer', async () => {
    const whole = await sdk(a.user).chat.completions.create({
      model: 'test-chat',
      messages: ask('exfiltration, whole'),
    });
    // Split into the model's words, as the stream sends them.
    const { stream } = await open(a, 'exfiltration, streamed');
    const streamed = await drain(stream);
    expect(streamed.error).toBeUndefined();
    expect(streamed.content).toBe(whole.choices[0]?.message.content);
    expect(streamed.content).not.toContain('evil.example');
    expect(streamed.content).toContain('the chart');
  });

  it('cancels the model call when the client leaves, records the part sent, and caches nothing', async () => {
    llm.streamWith({ holdAfter: 3 });
    const question = `${QUESTION} (left early)`;
    const calls = llmCalls();
    const { stream, requestId } = await open(a, question);
    const iterator = stream[Symbol.asyncIterator]();
    const sent = await firstContent(iterator);
    stream.controller.abort();
    // The model saw its client go away while it was still generating.
    await eventually(() => (llm.streams.at(-1) === 'abandoned' ? true : undefined));
    const [, completed] = (await streamEvents(a, requestId)) as [AuditRow, AuditRow];
    expect(completed.details).toMatchObject({ end: 'interrupted' });
    const record = await interaction(a, requestId);
    expect(record?.content).toMatchObject({ partial: true });
    // What was sent before the client left: at least what it read, and nothing held upstream.
    const partial = String(record?.content.answer);
    expect(partial.startsWith(sent)).toBe(true);
    expect(partial).not.toContain(a.canary);
    llm.streamWith();
    // The same question again goes to the model: a cut answer was not cached.
    const again = await drain((await open(a, question)).stream);
    expect(again.content).toContain(a.canary);
    expect(llmCalls()).toBe(calls + 2);
  });

  it('ends with an error event, never [DONE], when the model dies mid-stream', async () => {
    llm.streamWith({ dieAfter: 4 });
    const { stream, requestId } = await open(a, `${QUESTION} (model dies)`);
    const result = await drain(stream);
    llm.streamWith();
    expect(result.error).toMatchObject({ error: { code: 'upstream_error' } });
    expect(result.content.length).toBeGreaterThan(0);
    expect(result.chunks.some((c) => c.choices[0]?.finish_reason != null)).toBe(false);
    const [, completed] = (await streamEvents(a, requestId)) as [AuditRow, AuditRow];
    expect(completed).toMatchObject({ outcome: 'error' });
    expect(completed.details).toMatchObject({ end: 'upstream_error', error: 'upstream_error' });
    expect((await interaction(a, requestId))?.content).toMatchObject({ partial: true });

    // On the wire: the error event is the last one, and no [DONE] follows it.
    llm.streamWith({ dieAfter: 4 });
    const raw = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${a.user}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'test-chat',
        messages: ask(`${QUESTION} (model dies, raw)`),
        stream: true,
      }),
    });
    const body = await raw.text();
    llm.streamWith();
    expect(body).not.toContain('[DONE]');
    const lastEvent = body.trim().split('\n\n').at(-1) ?? '';
    expect(JSON.parse(lastEvent.replace(/^data: /, ''))).toMatchObject({
      error: { code: 'upstream_error', type: expect.any(String), message: expect.any(String) },
    });
  });

  it('caches a completed streamed answer and streams the hit in the same format', async () => {
    const question = `${QUESTION} (cached stream)`;
    const first = await drain(
      (await open(a, question, { stream_options: { include_usage: true } })).stream,
    );
    const calls = llmCalls();
    const hit = await open(a, question, { stream_options: { include_usage: true } });
    const second = await drain(hit.stream);
    expect(llmCalls()).toBe(calls);
    expect(second.content).toBe(first.content);
    expect(second.chunks.at(-1)?.citations).toEqual(first.chunks.at(-1)?.citations);
    expect(second.chunks.at(-1)?.usage).toEqual(first.chunks.at(-1)?.usage);
    const [event] = await events(a, hit.requestId);
    expect(event).toMatchObject({ action: 'POST /v1/chat/completions' });
    expect(event?.details).toMatchObject({ cache: 'hit' });
    // Control: the other tenant asking the same gets its own answer from the model.
    const theirs = await drain((await open(b, question)).stream);
    expect(theirs.content).toContain(b.canary);
    expect(theirs.content).not.toContain(a.canary);
    expect(llmCalls()).toBe(calls + 1);
  });

  it('reads the model only as fast as the client reads the stream', async () => {
    llm.streamWith({ padBytes: PAD_BYTES });
    const written = llm.eventsWritten;
    // A client that sends its request and then reads nothing.
    const { port } = new URL(gateway.url);
    const socket = connect(Number(port), '127.0.0.1');
    socket.pause();
    try {
      const body = JSON.stringify({
        model: 'test-chat',
        messages: ask(`${QUESTION} (backpressure)`),
        stream: true,
      });
      socket.write(
        `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${a.user}\r\n` +
          `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      // Wait until the model is held back too: no event written for 500 ms.
      for (let last = -1; llm.eventsWritten !== last;) {
        last = llm.eventsWritten;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const held = llm.eventsWritten - written;
      expect(held).toBeGreaterThan(0);
      expect(held).toBeLessThan(LONG_WORDS);
      // Reading again lets the rest through, to the end.
      let received = 0;
      let tail = '';
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        tail = (tail + chunk.toString('utf8')).slice(-300);
      });
      socket.resume();
      await eventually(() => (tail.includes('data: [DONE]') ? true : undefined), 60_000);
      expect(received).toBeGreaterThan(LONG_WORDS * 100);
      expect(llm.eventsWritten - written).toBeGreaterThan(LONG_WORDS);
    } finally {
      socket.destroy();
      llm.streamWith();
    }
  }, 120_000);

  it('ends with an error event when the model sends more than any answer may be', async () => {
    const { stream, requestId } = await open(a, `${QUESTION} (too long)`);
    const result = await drain(stream);
    expect(result.error).toMatchObject({ error: { code: 'upstream_error' } });
    const [, completed] = (await streamEvents(a, requestId)) as [AuditRow, AuditRow];
    expect(completed.details).toMatchObject({ end: 'upstream_error' });
    // Control: the whole answer of the same size is refused the same way.
    const whole = await call(a.user, 'POST', '/v1/chat/completions', {
      model: 'test-chat',
      messages: ask(`${QUESTION} (too long, whole)`),
    });
    expect(whole.status).toBe(502);
    expect(whole.body).toMatchObject({ error: { code: 'upstream_error' } });
  });

  it('keeps two tenants’ concurrent streams apart', async () => {
    llm.streamWith({ gapMs: 3 });
    const runs = await Promise.all(
      [a, b, a, b].map(async (tenant, i) => ({
        tenant,
        result: await drain((await open(tenant, `${QUESTION} (together ${i})`)).stream),
      })),
    );
    llm.streamWith();
    for (const { tenant, result } of runs) {
      const other = tenant === a ? b : a;
      expect(result.error).toBeUndefined();
      expect(result.content).toContain(tenant.canary);
      expect(result.content).not.toContain(other.canary);
      const cited = result.chunks.at(-1)?.citations?.map((c) => c.title);
      expect(cited).toEqual([tenant === a ? 'Protocol cardiology' : 'Protocol cardiac surgery']);
    }
  });

  it('answers 503 before any header of a stream, and calls no model, when the start cannot be recorded', async () => {
    // The tenant's chain is held by another session: its appends cannot get through.
    const holder = await superuser.connect();
    const key = `isogate:audit:t:${b.id}`;
    const calls = llmCalls();
    try {
      await holder.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [key]);
      const refused = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${b.user}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'test-chat',
          messages: ask(`${QUESTION} (no audit)`),
          stream: true,
        }),
      });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('content-type')).toContain('application/json');
      expect(await refused.json()).toMatchObject({ error: { code: 'store_unavailable' } });
      expect(llmCalls()).toBe(calls);
      // The append that gave up is cancelled, so it cannot land once the chain is free.
      await superuser.query(
        `SELECT pg_cancel_backend(l.pid) FROM pg_locks l
          WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objsubid = 1
            AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($1, 0)`,
        [key],
      );
    } finally {
      await holder.query('SELECT pg_advisory_unlock_all()');
      holder.release();
    }
    // Control: with the chain free, the same request streams.
    const streamed = await drain((await open(b, `${QUESTION} (no audit)`)).stream);
    expect(streamed.content).toContain(b.canary);
    expect(llmCalls()).toBe(calls + 1);
  });

  it('ends cleanly when the end cannot be recorded, and the verifier reports the open stream', async () => {
    const proxy = await TcpProxy.before(requireTestEnv('TEST_DATABASE_URL'));
    const behind = await startGateway(
      testConfig({
        ...idp.env,
        ...llmEnv(llm.url),
        DATABASE_URL: proxy.rewrite(requireTestEnv('TEST_DATABASE_URL')),
      }),
    );
    try {
      llm.streamWith({ holdAfter: 3 });
      const { stream, requestId } = await open(b, `${QUESTION} (end lost)`, {}, behind.url);
      const iterator = stream[Symbol.asyncIterator]();
      expect(await firstContent(iterator)).not.toBe('');
      // The start is on record; now PostgreSQL goes away before the end is written.
      proxy.cut();
      llm.release();
      const result = await drain({ [Symbol.asyncIterator]: () => iterator });
      llm.streamWith();
      expect(result.error).toMatchObject({ error: { code: 'store_unavailable' } });
      expect(result.chunks.some((c) => c.choices[0]?.finish_reason != null)).toBe(false);
      proxy.restore();
      const rows = await events(b, requestId);
      expect(rows.map((r) => r.action)).toEqual(['chat.started']);
      const verify = await call(b.auditor, 'GET', '/v1/audit/verify');
      expect(verify.body).toMatchObject({
        valid: true,
        streams: {
          started_without_completed: { request_ids: expect.arrayContaining([requestId]) },
        },
      });
      // Control: a stream of the same tenant that ended on record is not reported open.
      const done = await open(b, `${QUESTION} (end kept)`);
      await drain(done.stream);
      await streamEvents(b, done.requestId);
      const after = await call(b.auditor, 'GET', '/v1/audit/verify');
      const open_ = (after.body.streams as { started_without_completed: { request_ids: string[] } })
        .started_without_completed.request_ids;
      expect(open_).toContain(requestId);
      expect(open_).not.toContain(done.requestId);
    } finally {
      await behind.close();
      await proxy.close();
    }
  });

  it('streams an extractive answer in the same format when no model is configured', async () => {
    const extractive = await startGateway(testConfig({ ...idp.env, LLM_MODEL: 'test-chat' }));
    try {
      const { stream } = await open(a, `${QUESTION} (extractive)`, {}, extractive.url);
      const result = await drain(stream);
      expect(result.error).toBeUndefined();
      expect(result.content).toContain('No language model is configured');
      expect(result.content).toContain(a.canary);
      const last = result.chunks.at(-1) as Chunk;
      expect(last.choices[0]?.finish_reason).toBe('stop');
      expect(last.extractive).toBe(true);
      expect(last.citations?.[0]).toMatchObject({ document_id: 'protocol' });
    } finally {
      await extractive.close();
    }
  });
});
