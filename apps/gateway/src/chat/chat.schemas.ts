import { z } from 'zod';
import { retrievalFilterSchema } from '../retrieval/retrieval.schemas.js';

const MAX_MESSAGE_CHARS = 100_000;

const wellFormed = z
  .string()
  .max(MAX_MESSAGE_CHARS)
  .refine((text) => text.isWellFormed(), 'must be valid Unicode');

/** Content as a string, or as OpenAI's array of text parts (images and audio are refused). */
const content = z.union([
  wellFormed,
  z
    .array(z.strictObject({ type: z.literal('text'), text: wellFormed }))
    .min(1)
    .max(64),
]);

const message = z.strictObject({
  // `developer` is what newer OpenAI clients send in place of `system`.
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content,
  name: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
});

/**
 * The OpenAI chat-completions request as the gateway accepts it: the standard sampling fields,
 * plus `retrieval`. Fields that would take the model outside the tenant's context (tools,
 * function calls, audio, images) or that the gateway cannot honour (`n` > 1, logprobs) are
 * refused with 400 rather than silently ignored.
 */
export const chatRequestSchema = z
  .strictObject({
    model: z.string().min(1).max(200),
    messages: z.array(message).min(1).max(256),
    stream: z.boolean().default(false),
    stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullish(),
    max_tokens: z.number().int().min(1).max(1_000_000).nullish(),
    max_completion_tokens: z.number().int().min(1).max(1_000_000).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    presence_penalty: z.number().min(-2).max(2).nullish(),
    frequency_penalty: z.number().min(-2).max(2).nullish(),
    seed: z.number().int().nullish(),
    stop: z
      .union([z.string().min(1).max(200), z.array(z.string().min(1).max(200)).max(4)])
      .nullish(),
    n: z.literal(1).nullish(),
    user: z.string().max(256).nullish(),
    retrieval: z
      .strictObject({
        top_k: z.number().int().min(1).max(50).default(5),
        filter: retrievalFilterSchema.optional(),
        expand_graph: z.boolean().default(true),
      })
      .default({ top_k: 5, expand_graph: true }),
  })
  .refine((body) => body.messages.some((m) => m.role === 'user'), {
    message: 'messages must contain a user message',
    path: ['messages'],
  });
export type ChatRequest = z.infer<typeof chatRequestSchema>;
export type ChatRequestMessage = ChatRequest['messages'][number];

/** A passage the answer cites (API.md). */
export interface Citation {
  readonly document_id: string;
  readonly chunk_index: number;
  readonly title: string;
}

/** The standard `chat.completion` object plus `citations` (and `extractive` without a model). */
export interface ChatCompletion {
  readonly id: string;
  readonly object: 'chat.completion';
  readonly created: number;
  readonly model: string;
  readonly choices: readonly {
    readonly index: 0;
    readonly message: { readonly role: 'assistant'; readonly content: string; refusal: null };
    readonly finish_reason: string;
    readonly logprobs: null;
  }[];
  readonly usage: {
    readonly prompt_tokens: number;
    readonly completion_tokens: number;
    readonly total_tokens: number;
  };
  readonly citations: readonly Citation[];
  /** True when no model is configured and the answer is the best passages themselves. */
  readonly extractive: boolean;
}
