import { IsogateError, WaitClock } from '@isogate/isolation';
import OpenAI from 'openai';
import { bufferedFetch } from './buffered-fetch.js';

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
}

/** One message sent to the model. */
export interface ChatTurn {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

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
  /** A pseudonymous id of the end user, for the provider's abuse monitoring. */
  readonly user: string;
}

/** The model's answer. */
export interface ChatModelAnswer {
  readonly text: string;
  readonly finishReason: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

// The openai client refuses to start without a key; servers that need none ignore it.
const PLACEHOLDER_API_KEY = 'isogate-no-key';

/**
 * A chat model behind any OpenAI-compatible endpoint (OpenAI, Azure OpenAI's v1 API, vLLM,
 * Ollama, llama.cpp), through the official `openai` client. The answer is always requested
 * whole: the gateway records it in the audit trail before the caller sees a byte, so streaming
 * from upstream would gain nothing. Provider-side storage is declined (`store: false`).
 */
export class ChatModel {
  private readonly client: OpenAI;
  private readonly timeoutMs: number;

  constructor(options: ChatModelOptions) {
    this.timeoutMs = options.timeoutMs;
    this.client = new OpenAI({
      baseURL: options.baseURL,
      apiKey: options.apiKey ?? PLACEHOLDER_API_KEY,
      timeout: options.timeoutMs,
      maxRetries: options.maxRetries,
      // Explicit so the client does not read OPENAI_* variables: config is read once.
      organization: null,
      project: null,
      logLevel: 'off',
      fetch: bufferedFetch(),
    });
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
        .create(
          {
            model: request.model,
            messages: request.messages.map((turn) => ({ ...turn })),
            max_tokens: request.maxTokens,
            ...optional('temperature', request.temperature),
            ...optional('top_p', request.topP),
            ...optional('stop', request.stop === undefined ? undefined : copyStop(request.stop)),
            ...optional('presence_penalty', request.presencePenalty),
            ...optional('frequency_penalty', request.frequencyPenalty),
            ...optional('seed', request.seed),
            user: request.user,
            store: false,
            stream: false,
          },
          { signal: abort },
        )
        .catch((error: unknown) => {
          if (signal?.aborted === true) throw failure('client_closed_request', error);
          if (deadline.aborted) throw failure('upstream_timeout', error);
          throw upstreamFailure(error);
        }),
    );
    const choice = completion.choices[0];
    const text = choice?.message.content;
    if (choice === undefined || typeof text !== 'string') {
      throw upstreamFailure(new Error('the model answered without a message'));
    }
    return {
      text,
      finishReason: choice.finish_reason,
      promptTokens: completion.usage?.prompt_tokens ?? 0,
      completionTokens: completion.usage?.completion_tokens ?? 0,
    };
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
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
