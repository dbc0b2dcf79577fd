import { createHash } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { type AddressInfo } from 'node:net';

/**
 * A small OpenAI-compatible server on 127.0.0.1 for tests: embeddings, chat completions (plain
 * and streamed) and the model list. Answers are deterministic, every request is recorded, and
 * the next requests can be made to fail, so retry behaviour is testable without a model.
 * Azure OpenAI's deployment paths (`/openai/deployments/{deployment}/chat/completions` and
 * `/embeddings`, with `?api-version=`) are answered the same way, under `azureUrl`.
 *
 * ```ts
 * const server = await startOpenAiServer({ dimensions: 16 });
 * const client = new OpenAI({ baseURL: server.url, apiKey: 'test' });
 * const azure = new AzureOpenAI({ baseURL: server.azureUrl, apiKey: 'k', apiVersion: 'v' });
 * server.failNext(2, 503); // the next two requests, whatever their route, answer 503
 * await server.close();
 * ```
 */

/** A chat completion request as the server sees it (only the fields it reads are typed). */
export interface ChatRequestBody {
  readonly model: string;
  readonly messages: readonly { readonly role: string; readonly content?: unknown }[];
  readonly stream?: boolean;
  readonly stream_options?: { readonly include_usage?: boolean };
  readonly [field: string]: unknown;
}

/** A tool call the server answers with, in the OpenAI wire shape. */
export interface TestToolCall {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

/** What the assistant answers: its text, or a message with tool calls (finish `tool_calls`). */
export type ChatReply =
  | string
  | {
      readonly content?: string | null;
      readonly tool_calls?: readonly TestToolCall[];
      readonly logprobs?: unknown;
    };

/** How the server behaves. */
export interface OpenAiServerOptions {
  /** Length of embedding vectors unless a request asks for `dimensions` (default 8). */
  readonly dimensions?: number;
  /**
   * The assistant's answer to a chat request (default: `echo: ` + the last user message): a
   * text, or a reply with tool calls (and logprobs) for tests of the tool round trip.
   */
  readonly answer?: (request: ChatRequestBody) => ChatReply | Promise<ChatReply>;
  /** Model ids listed by `GET /v1/models` (default `['test-embed', 'test-chat']`). */
  readonly models?: readonly string[];
  /**
   * When set, requests without `Authorization: Bearer <apiKey>` get 401; on Azure's paths, those
   * without the header `api-key: <apiKey>`, as Azure OpenAI takes a key.
   */
  readonly apiKey?: string;
  /**
   * Rewrites an embeddings response before it is sent (reorder `data`, drop or corrupt an
   * item), to test how a client copes with a server that misbehaves.
   */
  readonly rewriteEmbeddings?: (response: EmbeddingsResponse) => unknown;
  /** Whether `requests` records what arrives (default true; off for long benchmarks). */
  readonly keepRequests?: boolean;
}

/** The body of an embeddings response (`embedding` is a base64 string when asked for). */
export interface EmbeddingsResponse {
  readonly object: 'list';
  readonly data: {
    readonly object: 'embedding';
    readonly index: number;
    readonly embedding: number[] | string;
  }[];
  readonly model: unknown;
  readonly usage: { readonly prompt_tokens: number; readonly total_tokens: number };
}

/** One request the server received; `body` is the parsed JSON (or the raw text if not JSON). */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
  /** The deployment an Azure path names (absent on OpenAI's paths). */
  readonly deployment?: string;
  /** The `api-version` query parameter, when one was sent. */
  readonly apiVersion?: string;
  /** The `api-key` header (Azure's way to send a key), when one was sent. */
  readonly apiKey?: string;
}

/** A running server. */
export interface OpenAiServer {
  /** Base URL ending in `/v1`, as the openai client's `baseURL` expects. */
  readonly url: string;
  /** Base URL ending in `/openai`, as an Azure resource's (AzureOpenAI's `baseURL`). */
  readonly azureUrl: string;
  /** Every request, in arrival order, failed ones included. */
  readonly requests: RecordedRequest[];
  /**
   * Makes the next `count` requests answer `status` (default 503) with an OpenAI-style error.
   * `retryAfterMs` sets the `retry-after-ms` header, which the openai client obeys instead of
   * its own backoff (0.5 s, 1 s, 2 s ...), to keep retry tests fast.
   */
  failNext(count: number, status?: number, options?: { readonly retryAfterMs?: number }): void;
  /** Makes chat answers wait `ms` before they are sent (0: answer at once). */
  delayChat(ms: number): void;
  /** Chat requests whose client closed the connection before the answer was sent. */
  readonly abandoned: RecordedRequest[];
  /**
   * How the next streamed answers are sent: `gapMs` between events; `holdAfter` events, then
   * wait until `release()`; `dieAfter` events, then destroy the connection (a model that dies
   * mid-stream). Without arguments, back to sending everything at once.
   */
  streamWith(control?: {
    gapMs?: number;
    holdAfter?: number;
    dieAfter?: number;
    padBytes?: number;
  }): void;
  /** Releases a stream held by `holdAfter`. */
  release(): void;
  /** How the streamed answers so far ended, in the order they ended. */
  readonly streams: ('finished' | 'abandoned' | 'died')[];
  /** Streamed events written (and flushed to the connection) so far, all streams together. */
  readonly eventsWritten: number;
  close(): Promise<void>;
}

/** The vector the server returns for `text`: derived from SHA-256, unit length. */
export function fakeEmbedding(text: string, dimensions: number): number[] {
  const values: number[] = [];
  for (let block = 0; values.length < dimensions; block++) {
    const digest = createHash('sha256').update(`${block}:${text}`).digest();
    for (let i = 0; i + 1 < digest.length && values.length < dimensions; i += 2) {
      values.push(digest.readUInt16BE(i) / 32_767.5 - 1);
    }
  }
  const norm = Math.hypot(...values) || 1;
  return values.map((value) => value / norm);
}

function defaultAnswer(request: ChatRequestBody): string {
  const last = [...request.messages].reverse().find((message) => message.role === 'user');
  return `echo: ${typeof last?.content === 'string' ? last.content : JSON.stringify(last?.content)}`;
}

async function readBody(request: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  for await (const part of request) parts.push(part as Buffer);
  const text = Buffer.concat(parts).toString('utf8');
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function sendError(response: ServerResponse, status: number, message: string): void {
  sendJson(response, status, { error: { message, type: 'test_server_error', code: status } });
}

function embeddings(body: Record<string, unknown>, dimensions: number): EmbeddingsResponse {
  const raw = body.input;
  const inputs: unknown[] = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : [];
  const size = typeof body.dimensions === 'number' ? body.dimensions : dimensions;
  const data = inputs.map((input, index) => {
    const vector = fakeEmbedding(typeof input === 'string' ? input : JSON.stringify(input), size);
    // The openai client asks for base64 (little-endian float32) unless told 'float'.
    const embedding =
      body.encoding_format === 'base64'
        ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
        : vector;
    return { object: 'embedding' as const, index, embedding };
  });
  const tokens = inputs.reduce<number>((sum, input) => sum + JSON.stringify(input).length, 0);
  return {
    object: 'list' as const,
    data,
    model: body.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

function completionBase(model: unknown): { id: string; created: number; model: unknown } {
  return { id: `chatcmpl-test-${Date.now()}`, created: Math.floor(Date.now() / 1000), model };
}

function chat(response: ServerResponse, body: ChatRequestBody, reply: ChatReply): void {
  const answer = typeof reply === 'string' ? reply : (reply.content ?? '');
  const usage = { prompt_tokens: 1, completion_tokens: answer.length, total_tokens: 1 };
  const base = completionBase(body.model);
  const calls = typeof reply === 'string' ? [] : (reply.tool_calls ?? []);
  const message = {
    role: 'assistant',
    content: typeof reply === 'string' ? answer : (reply.content ?? null),
    refusal: null,
    ...(calls.length > 0 ? { tool_calls: calls } : {}),
  };
  const finish = calls.length > 0 ? 'tool_calls' : 'stop';
  const logprobs = typeof reply === 'string' ? null : (reply.logprobs ?? null);
  const choices = [{ index: 0, message, finish_reason: finish, logprobs }];
  sendJson(response, 200, { ...base, object: 'chat.completion', choices, usage });
}

/** How a streamed answer is sent: the gap between events, a gate, a failure part-way. */
interface StreamControl {
  gapMs: number;
  /** Counts each event once it is flushed. */
  onWritten: () => void;
  /** Events sent before the stream waits for `release()` (Infinity: never waits). */
  holdAfter: number;
  /** Events sent before the connection is destroyed (Infinity: never). */
  dieAfter: number;
  /** A field of this many bytes added to every event, which clients ignore (0: none). */
  padBytes: number;
  release: () => void;
  released: Promise<void>;
}

/** The events of a streamed answer: role, words (or tool-call pieces), finish, usage. */
function streamEvents(body: ChatRequestBody, reply: ChatReply): string[] {
  const answer = typeof reply === 'string' ? reply : (reply.content ?? '');
  const usage = { prompt_tokens: 1, completion_tokens: answer.length, total_tokens: 1 };
  const base = completionBase(body.model);
  const calls = typeof reply === 'string' ? [] : (reply.tool_calls ?? []);
  const logprobs = typeof reply === 'string' ? undefined : reply.logprobs;
  const chunk = (choices: unknown[], extra: object = {}): string =>
    `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...extra })}\n\n`;
  const event = (delta: object, finish: string | null = null, lp: unknown = null): string =>
    chunk([{ index: 0, delta, finish_reason: finish, logprobs: lp }]);
  const events = [event({ role: 'assistant', content: '' })];
  (answer.match(/\s*\S+\s*/gu) ?? []).forEach((piece, i) =>
    events.push(event({ content: piece }, null, i === 0 ? (logprobs ?? null) : null)),
  );
  calls.forEach((call, index) => {
    // As OpenAI streams a call: id and name first, then the arguments in two pieces.
    const half = Math.ceil(call.function.arguments.length / 2);
    events.push(
      event({
        tool_calls: [
          { index, id: call.id, type: 'function', function: { name: call.function.name } },
        ],
      }),
      event({
        tool_calls: [{ index, function: { arguments: call.function.arguments.slice(0, half) } }],
      }),
      event({
        tool_calls: [{ index, function: { arguments: call.function.arguments.slice(half) } }],
      }),
    );
  });
  events.push(event({}, calls.length > 0 ? 'tool_calls' : 'stop'));
  if (body.stream_options?.include_usage === true) events.push(chunk([], { usage }));
  events.push('data: [DONE]\n\n');
  return events;
}

/** Sends a streamed answer as `control` says; resolves once it ended or the client left. */
async function streamChat(
  response: ServerResponse,
  events: readonly string[],
  control: StreamControl,
): Promise<'finished' | 'abandoned' | 'died'> {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const padding = 'p'.repeat(control.padBytes);
  let closed = false;
  const gone = new Promise<void>((resolve) =>
    response.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  for (const [i, event] of events.entries()) {
    if (i === control.dieAfter) {
      response.socket?.destroy();
      return 'died';
    }
    if (i === control.holdAfter) await Promise.race([control.released, gone]);
    if (i > 0 && control.gapMs > 0) await new Promise((r) => setTimeout(r, control.gapMs));
    if (closed) return 'abandoned';
    const sent =
      padding === '' ? event : event.replace(/^data: \{/u, `data: {"x_padding":"${padding}",`);
    // Flushed before the next step, so a connection destroyed after it has delivered it.
    await new Promise<void>((resolve) => response.write(sent, () => resolve()));
    control.onWritten();
  }
  response.end();
  return 'finished';
}

/** Waits `ms`; true when the client closed the connection first. */
async function waitUnlessClosed(response: ServerResponse, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      response.off('close', onClose);
      resolve(false);
    }, ms);
    const onClose = () => {
      clearTimeout(timer);
      resolve(true);
    };
    response.once('close', onClose);
  });
}

/** Azure's deployment paths, and the OpenAI path each answers as. */
const AZURE_PATH = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/u;

/**
 * What a request asks for: the route as OpenAI names it (`POST /v1/embeddings`) and, from
 * Azure's path and query, the deployment and API version it names.
 */
function requestOf(
  request: IncomingMessage,
  body: unknown,
): { readonly recorded: RecordedRequest; readonly route: string } {
  const method = request.method ?? 'GET';
  const url = new URL(request.url ?? '/', 'http://localhost');
  const path = url.pathname;
  const azure = AZURE_PATH.exec(path);
  const apiVersion = url.searchParams.get('api-version') ?? undefined;
  const apiKey = request.headers['api-key'];
  const recorded: RecordedRequest = {
    method,
    path,
    headers: request.headers,
    body,
    ...(azure?.[1] !== undefined ? { deployment: decodeURIComponent(azure[1]) } : {}),
    ...(apiVersion !== undefined ? { apiVersion } : {}),
    ...(typeof apiKey === 'string' ? { apiKey } : {}),
  };
  return { recorded, route: `${method} ${azure === null ? path : `/v1/${azure[2]}`}` };
}

/** Why the server refuses a request before answering it, if it does. */
function refusal(
  recorded: RecordedRequest,
  apiKey: string | undefined,
): { readonly status: number; readonly message: string } | undefined {
  if (recorded.deployment !== undefined) {
    // As Azure OpenAI: the API version is required, and the key comes in `api-key`.
    if (recorded.apiVersion === undefined) return { status: 404, message: 'no api-version' };
    if (apiKey !== undefined && recorded.apiKey !== apiKey) {
      return { status: 401, message: 'invalid api-key' };
    }
    return undefined;
  }
  if (apiKey !== undefined && recorded.headers.authorization !== `Bearer ${apiKey}`) {
    return { status: 401, message: 'invalid api key' };
  }
  return undefined;
}

/** Starts the server on a free port of 127.0.0.1. */
export async function startOpenAiServer(options: OpenAiServerOptions = {}): Promise<OpenAiServer> {
  const dimensions = options.dimensions ?? 8;
  const answer = options.answer ?? defaultAnswer;
  const models = options.models ?? ['test-embed', 'test-chat'];
  const requests: RecordedRequest[] = [];
  const failures = { remaining: 0, status: 503, retryAfterMs: undefined as number | undefined };
  const abandoned: RecordedRequest[] = [];
  const streams: ('finished' | 'abandoned' | 'died')[] = [];
  let chatDelayMs = 0;
  let eventsWritten = 0;
  const newControl = (
    settings: { gapMs?: number; holdAfter?: number; dieAfter?: number; padBytes?: number } = {},
  ): StreamControl => {
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    return {
      gapMs: settings.gapMs ?? 0,
      onWritten: () => {
        eventsWritten += 1;
      },
      holdAfter: settings.holdAfter ?? Infinity,
      dieAfter: settings.dieAfter ?? Infinity,
      padBytes: settings.padBytes ?? 0,
      release,
      released,
    };
  };
  let control = newControl();

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const body = await readBody(request);
    const { recorded, route } = requestOf(request, body);
    if (options.keepRequests !== false) requests.push(recorded);
    if (failures.remaining > 0) {
      failures.remaining--;
      if (failures.retryAfterMs !== undefined) {
        response.setHeader('retry-after-ms', String(failures.retryAfterMs));
      }
      sendError(response, failures.status, `failure injected by the test (${failures.status})`);
      return;
    }
    const refused = refusal(recorded, options.apiKey);
    if (refused !== undefined) {
      sendError(response, refused.status, refused.message);
      return;
    }
    const json = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (route === 'POST /v1/embeddings') {
      const result = embeddings(json, dimensions);
      sendJson(
        response,
        200,
        options.rewriteEmbeddings ? options.rewriteEmbeddings(result) : result,
      );
    } else if (route === 'POST /v1/chat/completions') {
      const chatBody = json as unknown as ChatRequestBody;
      const text = await answer(chatBody);
      if (chatDelayMs > 0) {
        const gone = await waitUnlessClosed(response, chatDelayMs);
        if (gone) {
          abandoned.push(recorded);
          return;
        }
      }
      if (chatBody.stream === true) {
        const ended = await streamChat(response, streamEvents(chatBody, text), control);
        streams.push(ended);
        if (ended === 'abandoned') abandoned.push(recorded);
      } else chat(response, chatBody, text);
    } else if (route === 'GET /v1/models') {
      const data = models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'test' }));
      sendJson(response, 200, { object: 'list', data });
    } else sendError(response, 404, `no route ${route}`);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendError(response, 500, String(error));
      else response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    azureUrl: `http://127.0.0.1:${port}/openai`,
    requests,
    abandoned,
    streams,
    get eventsWritten() {
      return eventsWritten;
    },
    delayChat(ms) {
      chatDelayMs = ms;
    },
    streamWith(settings) {
      control.release();
      control = newControl(settings);
    },
    release() {
      control.release();
    },
    failNext(count, status = 503, failOptions = {}) {
      failures.remaining = count;
      failures.status = status;
      failures.retryAfterMs = failOptions.retryAfterMs;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

/** The settings that point a test gateway at a test LLM at `url`, with no retries. */
export function llmEnv(url: string): Record<string, string> {
  return { LLM_BASE_URL: url, LLM_MODEL: 'test-chat', LLM_MAX_RETRIES: '0' };
}
