import { randomUUID } from 'node:crypto';
import { wireToolCall, type ToolCall } from '@isogate/models';
import type { ChatCompletion, Citation, WireToolCall } from './chat.schemas.js';
import type { Passage } from './context-window.js';

/** A finished answer, before it is shaped for the wire. */
export interface Answer {
  readonly text: string;
  /** Calls the model asked the caller to make; empty for a plain answer. */
  readonly toolCalls: readonly ToolCall[];
  /** The provider's logprobs, when asked for; null otherwise. */
  readonly logprobs: unknown;
  readonly finishReason: string;
  readonly citations: readonly Citation[];
  readonly extractive: boolean;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** Passages an extractive answer quotes. */
const EXTRACTIVE_PASSAGES = 3;

/**
 * The answer when no model is configured: the best passages themselves, numbered like the
 * citations, and said to be extractive so no one mistakes them for a generated answer.
 */
export function extractiveText(passages: readonly Passage[]): string {
  const best = passages.slice(0, EXTRACTIVE_PASSAGES);
  if (best.length === 0) {
    return 'No language model is configured, and no passage of your documents matches the question.';
  }
  const quoted = best.map((p, i) => `[${i + 1}] ${p.title}\n${p.text}`).join('\n\n');
  return `No language model is configured; these are the best matching passages of your documents.\n\n${quoted}`;
}

/**
 * The passages an answer cites: those it refers to as `[n]`, or, when it refers to none, every
 * passage it was given (the answer was grounded in all of them).
 */
export function citationsOf(text: string, passages: readonly Passage[]): Citation[] {
  const referenced = new Set<number>();
  for (const match of text.matchAll(/\[(\d{1,3})\]/g)) {
    const n = Number(match[1]);
    if (n >= 1 && n <= passages.length) referenced.add(n);
  }
  const cited =
    referenced.size > 0 ? [...referenced].sort((a, b) => a - b) : passages.map((_, i) => i + 1);
  return cited.map((n) => {
    const p = passages[n - 1] as Passage;
    return {
      document_id: p.document_id,
      chunk_index: p.chunk_index,
      title: p.title,
      ...(p.page !== undefined ? { page: p.page } : {}),
      ...(p.section !== undefined ? { section: p.section } : {}),
    };
  });
}

/** The non-streaming response. */
export function completionOf(model: string, answer: Answer): ChatCompletion {
  return {
    id: `chatcmpl-${randomUUID()}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: messageOf(answer),
        finish_reason: answer.finishReason,
        logprobs: answer.logprobs ?? null,
      },
    ],
    usage: usageOf(answer.promptTokens, answer.completionTokens),
    citations: answer.citations,
    extractive: answer.extractive,
  };
}

/** The answer's message: a tool-call answer without text has `content: null`, as OpenAI's. */
function messageOf(answer: Answer): ChatCompletion['choices'][number]['message'] {
  const toolCalls = answer.toolCalls;
  if (toolCalls.length === 0) return { role: 'assistant', content: answer.text, refusal: null };
  const tool_calls: WireToolCall[] = toolCalls.map(wireToolCall);
  return {
    role: 'assistant',
    content: answer.text === '' ? null : answer.text,
    refusal: null,
    tool_calls,
  };
}

/** The usage object of a response, from the tokens in and out. */
export function usageOf(promptTokens: number, completionTokens: number): ChatCompletion['usage'] {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}
