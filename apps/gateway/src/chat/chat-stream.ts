import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { IsogateError, type ErrorCode } from '@isogate/isolation';
import { wireToolCall, type ChatModelDelta, type ToolCall } from '@isogate/models';
import { errorBody } from '../errors/error-response.js';
import { usageOf, type Answer } from './chat-answer.js';
import type { ChatCompletion, Citation } from './chat.schemas.js';
import { StreamSanitizer } from './stream-sanitizer.js';

/**
 * The events of one streamed response (`chat.completion.chunk`, OpenAI's format), all with the
 * same id, `created` and model.
 */
class ChunkEncoder {
  readonly #base: { id: string; created: number; model: string };

  constructor(model: string) {
    this.#base = { id: `chatcmpl-${randomUUID()}`, created: Math.floor(Date.now() / 1000), model };
  }

  chunk(choices: unknown[], extra: object = {}): string {
    return `data: ${JSON.stringify({ ...this.#base, object: 'chat.completion.chunk', choices, ...extra })}\n\n`;
  }

  delta(delta: object, finish: string | null = null, logprobs: unknown = null, extra = {}): string {
    return this.chunk([{ index: 0, delta, finish_reason: finish, logprobs }], extra);
  }

  /** The answer's end: the finish chunk, the usage chunk if asked for, then `[DONE]`. */
  end(finish: FinishedStream, finishReason: string, includeUsage: boolean): string {
    const last = { citations: finish.citations, extractive: finish.extractive };
    const usage = includeUsage ? this.chunk([], { usage: finish.usage, ...last }) : '';
    return `${this.delta({}, finishReason, null, includeUsage ? {} : last)}${usage}data: [DONE]\n\n`;
  }

  /** An error in the shape OpenAI clients raise from a stream; no `[DONE]` follows it. */
  static error(code: ErrorCode, message: string): string {
    return `data: ${JSON.stringify(errorBody(code, message))}\n\n`;
  }
}

/** What the caller is told about a streamed answer once it is on record. */
export interface FinishedStream {
  readonly citations: readonly Citation[];
  readonly extractive: boolean;
  readonly usage: ChatCompletion['usage'];
}

/** How a streamed answer ended. */
export type StreamEnd = 'completed' | 'interrupted' | 'upstream_error';

/** A streamed answer as it was sent, when the stream ends. */
export interface StreamResult {
  readonly end: StreamEnd;
  /** The error code of an `upstream_error` end (`upstream_error`, `upstream_timeout`). */
  readonly error: string | null;
  /** Whether the model was called; not when the client left before the start was on record. */
  readonly called: boolean;
  /** The text as sent (sanitized), the whole answer or the part sent before the end. */
  readonly text: string;
  readonly toolCalls: readonly ToolCall[];
  /** The logprobs of every event, joined, when asked for; otherwise null. */
  readonly logprobs: unknown;
  readonly finishReason: string | null;
  /** The provider's token counts, when it sent them. */
  readonly usage: { readonly promptTokens: number; readonly completionTokens: number } | null;
}

/**
 * An answer generated while it is sent. `deltas` calls the model when first read (after the
 * request's start event is committed); `finish` puts the end of the stream on record, exactly
 * once however the stream ends, and answers what its last chunk tells (it throws when the
 * record could not be written).
 */
export interface LiveAnswer {
  /** Whether the model may be called: once the request's start event is committed. */
  readonly mayProceed: () => Promise<boolean>;
  readonly deltas: () => AsyncIterable<ChatModelDelta>;
  readonly finish: (result: StreamResult) => Promise<FinishedStream>;
  /** Hosts links may point to; every other link is removed as in a non-streamed answer. */
  readonly linkHosts: readonly string[];
}

/**
 * The streamed response of an answer that exists whole (a cache hit, an extractive answer): a
 * role chunk, the content in pieces (or the tool calls), the finish chunk, an optional usage
 * chunk, then `[DONE]`. The last chunk before `[DONE]` carries `citations` (API.md).
 */
export function eventStreamOf(model: string, answer: Answer, includeUsage: boolean): string {
  const encoder = new ChunkEncoder(model);
  const events = [encoder.delta({ role: 'assistant', content: '' })];
  const texts = pieces(answer.text);
  texts.forEach((piece, i) =>
    // The logprobs, when there are any, go with the first piece.
    events.push(encoder.delta({ content: piece }, null, i === 0 ? answer.logprobs : null)),
  );
  if (answer.toolCalls.length > 0) {
    const tool_calls = answer.toolCalls.map((call, index) => ({ index, ...wireToolCall(call) }));
    events.push(encoder.delta({ tool_calls }));
  }
  const usage = usageOf(answer.promptTokens, answer.completionTokens);
  events.push(encoder.end({ ...answer, usage }, answer.finishReason, includeUsage));
  return events.join('');
}

/**
 * The streamed response of an answer generated while it is sent: each delta of the model
 * forwarded as it arrives, through the same link sanitizer as a whole answer; then, once
 * `finish` has put the answer on record, the finish chunk (with the citations), the usage chunk
 * if asked for and `[DONE]`. An upstream failure ends the stream with an error event, never a
 * `[DONE]`: a cut answer never looks whole. The model is read only as fast as the client reads
 * (the stream pulls one delta at a time), and a client that goes away stops the model call.
 */
export function liveEventStream(model: string, live: LiveAnswer, includeUsage: boolean): Readable {
  return Readable.from(liveEvents(model, live, includeUsage), {
    objectMode: false,
    highWaterMark: 16 * 1024,
  });
}

async function* liveEvents(
  model: string,
  live: LiveAnswer,
  includeUsage: boolean,
): AsyncGenerator<string> {
  const encoder = new ChunkEncoder(model);
  const sanitizer = new StreamSanitizer(live.linkHosts);
  const answer = new StreamedAnswer();
  let recorded = false;
  const finish = (result: StreamResult): Promise<FinishedStream> => {
    recorded = true;
    return live.finish(result);
  };
  try {
    yield encoder.delta({ role: 'assistant', content: '' });
    // Read before the start event is written (the first chunk decides the headers): the model
    // is called only once that event is committed.
    if (!(await live.mayProceed())) return;
    answer.called = true;
    let outcome: { end: StreamEnd; failure?: IsogateError };
    try {
      for await (const delta of live.deltas()) {
        const text = sanitizer.push(delta.text);
        answer.add(delta, text);
        const wire: { content?: string; tool_calls?: unknown[] } = {};
        if (text !== '') wire.content = text;
        if (delta.toolCalls.length > 0) wire.tool_calls = delta.toolCalls.map(wireToolDelta);
        if (text !== '' || delta.toolCalls.length > 0 || delta.logprobs !== null) {
          yield encoder.delta(wire, null, delta.logprobs);
        }
      }
      outcome = { end: 'completed' };
    } catch (error) {
      const failure = asIsogateError(error);
      outcome = {
        end: failure.code === 'client_closed_request' ? 'interrupted' : 'upstream_error',
        failure,
      };
    }
    if (outcome.end !== 'interrupted') {
      // What the sanitizer held back is safe as a whole, also before an error event.
      const rest = sanitizer.end();
      answer.addText(rest);
      if (rest !== '') yield encoder.delta({ content: rest });
    }
    const result = answer.result(outcome.end, outcome.failure?.code ?? null);
    let finished: FinishedStream;
    try {
      finished = await finish(result);
    } catch {
      yield ChunkEncoder.error(
        'store_unavailable',
        'The audit trail could not record the end of this answer; do not rely on it. Retry later.',
      );
      return;
    }
    if (outcome.failure !== undefined) {
      yield ChunkEncoder.error(outcome.failure.code, outcome.failure.message);
      return;
    }
    yield encoder.end(finished, result.finishReason ?? 'stop', includeUsage);
  } finally {
    // The client went away while a chunk waited for it: what it was sent goes on record.
    if (!recorded) await finish(answer.result('interrupted', null)).catch(() => {});
  }
}

/** The answer put together from its deltas, as it was sent. */
class StreamedAnswer {
  #text = '';
  readonly #calls = new Map<number, { id: string; name: string; arguments: string }>();
  readonly #logprobs: unknown[] = [];
  #asked = false;
  #finishReason: string | null = null;
  #usage: StreamResult['usage'] = null;
  /** Whether the model was called (not when the client left before the start was on record). */
  called = false;

  add(delta: ChatModelDelta, sentText: string): void {
    this.#text += sentText;
    for (const piece of delta.toolCalls) {
      const call = this.#calls.get(piece.index) ?? { id: '', name: '', arguments: '' };
      if (piece.id !== undefined) call.id = piece.id;
      if (piece.name !== undefined) call.name += piece.name;
      if (piece.arguments !== undefined) call.arguments += piece.arguments;
      this.#calls.set(piece.index, call);
    }
    if (delta.logprobs !== null) {
      this.#asked = true;
      const content = (delta.logprobs as { content?: unknown }).content;
      if (Array.isArray(content)) this.#logprobs.push(...(content as unknown[]));
    }
    this.#finishReason = delta.finishReason ?? this.#finishReason;
    this.#usage = delta.usage ?? this.#usage;
  }

  addText(text: string): void {
    this.#text += text;
  }

  result(end: StreamEnd, error: string | null): StreamResult {
    const toolCalls = [...this.#calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => call);
    return {
      end,
      error,
      called: this.called,
      text: this.#text,
      toolCalls,
      logprobs: this.#asked ? { content: this.#logprobs, refusal: null } : null,
      finishReason: this.#finishReason,
      usage: this.#usage,
    };
  }
}

function wireToolDelta(piece: ChatModelDelta['toolCalls'][number]): object {
  return {
    index: piece.index,
    ...(piece.id !== undefined ? { id: piece.id, type: 'function' } : {}),
    function: {
      ...(piece.name !== undefined ? { name: piece.name } : {}),
      ...(piece.arguments !== undefined ? { arguments: piece.arguments } : {}),
    },
  };
}

function asIsogateError(error: unknown): IsogateError {
  return error instanceof IsogateError
    ? error
    : new IsogateError('upstream_error', 'The language model failed to answer');
}

/** Characters per streamed content chunk of an answer that exists whole. */
const PIECE = 64;

function pieces(text: string): string[] {
  const result: string[] = [];
  // By code point, so a piece never ends inside a surrogate pair.
  const points = Array.from(text);
  for (let i = 0; i < points.length; i += PIECE) result.push(points.slice(i, i + PIECE).join(''));
  return result;
}
