import { IsogateError, WaitClock } from '@isogate/isolation';
import OpenAI, { AzureOpenAI } from 'openai';
import { bufferedFetch, streamingFetch, type FetchLike } from './model-fetch.js';

/** Where and how to reach an OpenAI-compatible `/chat/completions` endpoint. */
export interface ChatModelOptions {
  /** Base URL including the API prefix, e.g. `https://api.openai.com/v1`. */
  readonly baseURL: string;
  /** Bearer key; local servers (vLLM, Ollama) need none, so a placeholder is sent when absent. */
  readonly apiKey?: string;
  /** Time limit per attempt in milliseconds. */
  readonly timeoutMs: number;
  /** Retries on 408/409/429/5xx and connection errors, with the client's own backoff. */
  readonly maxRetries: number;
  /** Set for Azure OpenAI's deployment API: `baseURL` is then the resource's `/openai` URL. */
  readonly azure?: AzureDeployment;
}

/** An Azure OpenAI deployment: its name (placed in the request path) and the API version. */
export interface AzureDeployment {
  readonly deployment: string;
  readonly apiVersion: string;
}

/** A function call the model asked for (or, in the conversation, had asked for). */
export interface ToolCall {
  readonly id: string;
  readonly name: string;
  /** The arguments as the model wrote them: JSON text, not necessarily valid. */
  readonly arguments: string;
}

/** A part of a user message: text, or an image (a `data:` or `https:` URL) the model reads. */
export type ContentPart =
  | { readonly type: 'text'; readonly text: string }
  | {
      readonly type: 'image_url';
      readonly image_url: { readonly url: string; readonly detail?: 'auto' | 'low' | 'high' };
    };

/**
 * One message sent to the model. An assistant turn may carry `toolCalls` (its `content` is then
 * often empty); a `tool` turn is the result of the call `toolCallId`. A user turn with images
 * has `parts`, in order, and `content` is the text of its text parts.
 */
export interface ChatTurn {
  readonly role: 'system' | 'user' | 'assistant' | 'tool';
  readonly content: string;
  readonly parts?: readonly ContentPart[];
  readonly toolCalls?: readonly ToolCall[];
  readonly toolCallId?: string;
}

/** A function the model may call, in the OpenAI wire shape. */
export interface ToolDefinition {
  readonly type: 'function';
  readonly function: {
    readonly name: string;
    readonly description?: string | undefined;
    readonly parameters?: Readonly<Record<string, unknown>> | undefined;
    readonly strict?: boolean | null | undefined;
  };
}

/** Which tool the model must (or must not) call, in the OpenAI wire shape. */
export type ToolChoice =
  | 'none'
  | 'auto'
  | 'required'
  | { readonly type: 'function'; readonly function: { readonly name: string } };

/** The shape the answer must have, in the OpenAI wire shape. */
export type ResponseFormat =
  | { readonly type: 'text' }
  | { readonly type: 'json_object' }
  | {
      readonly type: 'json_schema';
      readonly json_schema: {
        readonly name: string;
        readonly description?: string | undefined;
        readonly schema?: Readonly<Record<string, unknown>> | undefined;
        readonly strict?: boolean | null | undefined;
      };
    };

/** What the gateway asks the model for. */
export interface ChatModelRequest {
  readonly model: string;
  readonly messages: readonly ChatTurn[];
  readonly maxTokens: number;
  readonly temperature?: number;
  readonly topP?: number;
  readonly stop?: string | readonly string[];
  readonly presencePenalty?: number;
  readonly frequencyPenalty?: number;
  readonly seed?: number;
  readonly tools?: readonly ToolDefinition[];
  readonly toolChoice?: ToolChoice;
  readonly parallelToolCalls?: boolean;
  readonly responseFormat?: ResponseFormat;
  readonly logprobs?: boolean;
  readonly topLogprobs?: number;
  /** A pseudonymous id of the end user, for the provider's abuse monitoring. */
  readonly user: string;
}

/** The model's answer. */
export interface ChatModelAnswer {
  /** The answer's text; empty when the model only asked for tool calls. */
  readonly text: string;
  readonly toolCalls: readonly ToolCall[];
  /** The provider's `logprobs` object as it sent it, when asked for; otherwise null. */
  readonly logprobs: unknown;
  readonly finishReason: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** A piece of a tool call as a stream carries it: the first piece has the id and name. */
export interface ToolCallDelta {
  /** Which call of the answer this piece belongs to. */
  readonly index: number;
  readonly id?: string;
  readonly name?: string;
  readonly arguments?: string;
}

/** One event of a streamed answer, as the model sent it. */
export interface ChatModelDelta {
  /** Text added to the answer ('' when this event adds none). */
  readonly text: string;
  readonly toolCalls: readonly ToolCallDelta[];
  /** The provider's logprobs for this event's tokens, when asked for; otherwise null. */
  readonly logprobs: unknown;
  /** Set on the event that ends the answer. */
  readonly finishReason: string | null;
  /** The token counts, on the usage event that ends the stream (when the provider sends it). */
  readonly usage: { readonly promptTokens: number; readonly completionTokens: number } | null;
}

/**
 * The longest answer taken from a model, in characters of text and tool-call arguments (about
 * 500,000 tokens, far beyond any output limit in use): a model that sends more is failing, and
 * holding its answer would cost every tenant the gateway's memory.
 */
export const MAX_ANSWER_CHARS = 2_000_000;

// The openai client refuses to start without a key; servers that need none ignore it.
const PLACEHOLDER_API_KEY = 'isogate-no-key';

/**
 * A chat model behind any OpenAI-compatible endpoint (OpenAI, Azure OpenAI's deployments or
 * its v1 API, vLLM, Ollama, llama.cpp), through the official `openai` client: an answer whole
 * (`complete`) or as it is generated (`stream`). Provider-side storage is declined
 * (`store: false`).
 */
export class ChatModel {
  private readonly client: OpenAI;
  private readonly streamingClient: OpenAI;
  private readonly timeoutMs: number;

  constructor(options: ChatModelOptions) {
    this.timeoutMs = options.timeoutMs;
    const settings = {
      baseURL: options.baseURL,
      apiKey: options.apiKey ?? PLACEHOLDER_API_KEY,
      timeout: options.timeoutMs,
      maxRetries: options.maxRetries,
      // Explicit so the client does not read OPENAI_* variables: config is read once.
      organization: null,
      project: null,
      logLevel: 'off',
    } as const;
    this.client = openAiClient(settings, bufferedFetch(), options.azure);
    this.streamingClient = openAiClient(settings, streamingFetch(), options.azure);
  }

  /**
   * The model's answer to `request`. `signal` cancels the call (the caller went away).
   * @throws IsogateError `upstream_timeout` when the model did not answer in time,
   * `upstream_error` when it failed or answered with something unusable after the retries,
   * `client_closed_request` when `signal` aborted it. Messages name nothing upstream.
   */
  async complete(request: ChatModelRequest, signal?: AbortSignal): Promise<ChatModelAnswer> {
    // One deadline for the whole call, retries included; which signal fired tells the caller's
    // departure from a timeout without relying on how the client classifies aborted fetches.
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const abort = signal === undefined ? deadline : AbortSignal.any([signal, deadline]);
    const completion = await WaitClock.measure(() =>
      this.client.chat.completions
        .create({ ...paramsOf(request), stream: false }, { signal: abort })
        .catch((error: unknown) => {
          if (signal?.aborted === true) throw failure('client_closed_request', error);
          if (deadline.aborted) throw failure('upstream_timeout', error);
          throw upstreamFailure(error);
        }),
    );
    const choice = completion.choices[0];
    const toolCalls = (choice?.message.tool_calls ?? []).flatMap((call) =>
      call.type === 'function'
        ? [{ id: call.id, name: call.function.name, arguments: call.function.arguments }]
        : [],
    );
    const text = choice?.message.content ?? (toolCalls.length > 0 ? '' : undefined);
    if (choice === undefined || typeof text !== 'string') {
      throw upstreamFailure(new Error('the model answered without a message'));
    }
    const size = toolCalls.reduce((sum, call) => sum + call.arguments.length, text.length);
    if (size > MAX_ANSWER_CHARS) throw upstreamFailure(new Error('the answer is too long'));
    return {
      text,
      toolCalls,
      logprobs: choice.logprobs ?? null,
      finishReason: choice.finish_reason,
      promptTokens: completion.usage?.prompt_tokens ?? 0,
      completionTokens: completion.usage?.completion_tokens ?? 0,
    };
  }

  /**
   * The model's answer to `request` as it is generated, one event per chunk the model sends,
   * read only as fast as the caller iterates (the response body is not read ahead of it). The
   * time limit applies to each wait: for the first event and between two events. Stopping the
   * iteration, or `signal`, cancels the upstream request at once.
   * @throws IsogateError as `complete`, at any point of the iteration; also `upstream_error`
   * when the stream ends before the model said the answer was finished, so a cut stream never
   * looks like a whole answer.
   */
  async *stream(request: ChatModelRequest, signal?: AbortSignal): AsyncGenerator<ChatModelDelta> {
    const idle = new IdleTimer(this.timeoutMs);
    // Aborted when the iteration stops early, so the upstream request does not outlive it.
    const stopped = new AbortController();
    const abort = AbortSignal.any(
      signal === undefined ? [idle.signal, stopped.signal] : [signal, idle.signal, stopped.signal],
    );
    const failed = (error: unknown): IsogateError => {
      if (signal?.aborted === true) return failure('client_closed_request', error);
      if (idle.signal.aborted) return failure('upstream_timeout', error);
      return error instanceof IsogateError ? error : upstreamFailure(error);
    };
    let finished = false;
    let size = 0;
    try {
      const chunks = await this.streamingClient.chat.completions
        .create(
          { ...paramsOf(request), stream: true, stream_options: { include_usage: true } },
          { signal: abort },
        )
        .catch((error: unknown) => {
          throw failed(error);
        });
      idle.restart();
      const iterator = chunks[Symbol.asyncIterator]();
      for (;;) {
        const next = await iterator.next().catch((error: unknown) => {
          throw failed(error);
        });
        // The client ends an aborted stream quietly: who aborted it decides what it was.
        if (abort.aborted) throw failed(abort.reason);
        if (next.done === true) break;
        idle.restart();
        const delta = deltaOf(next.value);
        size = delta.toolCalls.reduce((sum, call) => sum + (call.arguments?.length ?? 0), size);
        size += delta.text.length;
        if (size > MAX_ANSWER_CHARS) throw failed(new Error('the answer is too long'));
        finished ||= delta.finishReason !== null;
        yield delta;
      }
    } finally {
      idle.stop();
      stopped.abort();
    }
    if (!finished) throw failed(new Error('the stream ended before the answer was finished'));
  }
}

/** The settings every client of the lib is built with. */
interface ClientSettings {
  readonly baseURL: string;
  readonly apiKey: string;
  readonly timeout: number;
  readonly maxRetries: number;
  readonly organization: null;
  readonly project: null;
  readonly logLevel: 'off';
}

/** The `openai` client for `settings`, Azure's when a deployment is given. */
export function openAiClient(
  settings: ClientSettings,
  fetch: FetchLike,
  azure: AzureDeployment | undefined,
): OpenAI {
  if (azure === undefined) return new OpenAI({ ...settings, fetch });
  // Both explicit, so the client reads no OPENAI_API_VERSION or AZURE_OPENAI_* variable.
  return new AzureOpenAI({
    ...settings,
    fetch,
    deployment: azure.deployment,
    apiVersion: azure.apiVersion,
  });
}

/** Aborts its signal when `restart` has not been called for `ms`. */
class IdleTimer {
  readonly #controller = new AbortController();
  readonly #ms: number;
  #timer: NodeJS.Timeout;

  constructor(ms: number) {
    this.#ms = ms;
    this.#timer = this.start();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  restart(): void {
    clearTimeout(this.#timer);
    this.#timer = this.start();
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  private start(): NodeJS.Timeout {
    const timer = setTimeout(() => this.#controller.abort(new Error('idle timeout')), this.#ms);
    timer.unref();
    return timer;
  }
}

/** The request's parameters in the wire shape, for either kind of call. */
function paramsOf(request: ChatModelRequest): OpenAI.ChatCompletionCreateParamsNonStreaming {
  return {
    model: request.model,
    messages: request.messages.map(wireMessage),
    max_tokens: request.maxTokens,
    ...optional('temperature', request.temperature),
    ...optional('top_p', request.topP),
    ...optional('stop', request.stop === undefined ? undefined : copyStop(request.stop)),
    ...optional('presence_penalty', request.presencePenalty),
    ...optional('frequency_penalty', request.frequencyPenalty),
    ...optional('seed', request.seed),
    // Sent as given: the client only serializes them (its types are merely mutable).
    ...optional('tools', request.tools as OpenAI.ChatCompletionTool[] | undefined),
    ...optional(
      'tool_choice',
      request.toolChoice as OpenAI.ChatCompletionToolChoiceOption | undefined,
    ),
    ...optional('parallel_tool_calls', request.parallelToolCalls),
    ...optional('response_format', request.responseFormat),
    ...optional('logprobs', request.logprobs),
    ...optional('top_logprobs', request.topLogprobs),
    user: request.user,
    store: false,
  };
}

/** A chunk of the stream as the gateway uses it (the first choice; usage on the last chunk). */
function deltaOf(chunk: OpenAI.ChatCompletionChunk): ChatModelDelta {
  const choice = chunk.choices[0];
  const toolCalls = (choice?.delta.tool_calls ?? []).map((call) => ({
    index: call.index,
    ...optional('id', call.id),
    ...optional('name', call.function?.name),
    ...optional('arguments', call.function?.arguments),
  }));
  const usage = chunk.usage ?? null;
  return {
    text: choice?.delta.content ?? '',
    toolCalls,
    logprobs: choice?.logprobs ?? null,
    finishReason: choice?.finish_reason ?? null,
    usage:
      usage === null
        ? null
        : { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens },
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/** A tool call in the OpenAI wire shape, as requests and answers carry it. */
export function wireToolCall(call: ToolCall): {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
} {
  return {
    id: call.id,
    type: 'function',
    function: { name: call.name, arguments: call.arguments },
  };
}

/** A turn in the wire shape: tool calls and their results as OpenAI names them. */
function wireMessage(turn: ChatTurn): OpenAI.ChatCompletionMessageParam {
  if (turn.role === 'tool') {
    return { role: 'tool', content: turn.content, tool_call_id: turn.toolCallId ?? '' };
  }
  if (turn.role === 'assistant' && turn.toolCalls !== undefined && turn.toolCalls.length > 0) {
    return {
      role: 'assistant',
      content: turn.content === '' ? null : turn.content,
      tool_calls: turn.toolCalls.map(wireToolCall),
    };
  }
  if (turn.role === 'user' && turn.parts !== undefined) {
    return { role: 'user', content: turn.parts.map((part) => ({ ...part })) };
  }
  return { role: turn.role, content: turn.content };
}

function copyStop(stop: string | readonly string[]): string | string[] {
  return typeof stop === 'string' ? stop : [...stop];
}

const MESSAGES = {
  client_closed_request: 'The client closed the request',
  upstream_timeout: 'The language model did not answer in time',
  upstream_error: 'The language model failed to answer',
} as const;

/** The failure a caller sees; the upstream error (which may echo the prompt) stays the cause. */
function failure(code: keyof typeof MESSAGES, cause: unknown): IsogateError {
  const error = new IsogateError(code, MESSAGES[code]);
  error.cause = cause;
  return error;
}

function upstreamFailure(error: unknown): IsogateError {
  if (error instanceof OpenAI.APIConnectionTimeoutError) return failure('upstream_timeout', error);
  return failure('upstream_error', error);
}
