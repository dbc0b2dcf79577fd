import { z } from 'zod';
import { retrievalFilterSchema } from '../retrieval/retrieval.schemas.js';

const MAX_MESSAGE_CHARS = 100_000;
const MAX_IMAGE_URL_CHARS = 8_000_000;

const wellFormed = z
  .string()
  .max(MAX_MESSAGE_CHARS)
  .refine((text) => text.isWellFormed(), 'must be valid Unicode');

/** Text parts of a message, and image parts (refused later with `images_disabled`). */
const textPart = z.strictObject({ type: z.literal('text'), text: wellFormed });
const imagePart = z.strictObject({
  type: z.literal('image_url'),
  image_url: z.strictObject({
    // A data: URL carries the image itself, so it may be far longer than a message.
    url: z.string().min(1).max(MAX_IMAGE_URL_CHARS),
    detail: z.enum(['auto', 'low', 'high']).optional(),
  }),
});
const textContent = z.union([wellFormed, z.array(textPart).min(1).max(64)]);
/** Audio and file parts are not shapes the gateway knows: they are refused as invalid. */
const userContent = z.union([
  wellFormed,
  z
    .array(z.discriminatedUnion('type', [textPart, imagePart]))
    .min(1)
    .max(64),
]);

const functionName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must match ^[A-Za-z0-9_-]{1,64}$');
const name = functionName.optional();
const callId = z.string().min(1).max(256);

/** Limits on what a tool definition may add to every request (API.md). */
const MAX_TOOLS = 128;
const MAX_SCHEMA_CHARS = 32_768;
const MAX_DESCRIPTION_CHARS = 4_096;
const MAX_ARGUMENT_CHARS = 32_768;

/** A JSON Schema object, bounded by its serialized size. */
const jsonSchema = z
  .record(z.string(), z.unknown())
  .refine(
    (schema) => JSON.stringify(schema).length <= MAX_SCHEMA_CHARS,
    `must be at most ${MAX_SCHEMA_CHARS} characters of JSON`,
  );

/**
 * What the openai SDK's helpers (`stream()`, `parse()`) add to an answer they return, which
 * applications echo back in the conversation: accepted, never sent to the model (API.md).
 */
const sdkEcho = z.unknown().optional();

const toolCall = z.strictObject({
  id: callId,
  type: z.literal('function'),
  function: z.strictObject({
    name: functionName,
    arguments: wellFormed.max(MAX_ARGUMENT_CHARS),
    parsed_arguments: sdkEcho,
  }),
  index: z.number().int().nonnegative().optional(),
});

const message = z.discriminatedUnion('role', [
  // `developer` is what newer OpenAI clients send in place of `system`.
  z.strictObject({ role: z.enum(['system', 'developer']), content: textContent, name }),
  z.strictObject({ role: z.literal('user'), content: userContent, name }),
  z
    .strictObject({
      role: z.literal('assistant'),
      content: textContent.nullish(),
      name,
      refusal: z.string().max(MAX_MESSAGE_CHARS).nullish(),
      tool_calls: z.array(toolCall).min(1).max(MAX_TOOLS).optional(),
      parsed: sdkEcho,
    })
    .refine((m) => m.content != null || m.refusal != null || m.tool_calls !== undefined, {
      message: 'an assistant message needs content, refusal or tool_calls',
      path: ['content'],
    }),
  z.strictObject({ role: z.literal('tool'), content: textContent, tool_call_id: callId }),
]);

const tool = z.strictObject({
  type: z.literal('function'),
  function: z.strictObject({
    name: functionName,
    description: wellFormed.max(MAX_DESCRIPTION_CHARS).optional(),
    parameters: jsonSchema.optional(),
    strict: z.boolean().nullish(),
  }),
});

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.strictObject({ type: z.literal('function'), function: z.strictObject({ name: functionName }) }),
]);

const responseFormat = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text') }),
  z.strictObject({ type: z.literal('json_object') }),
  z.strictObject({
    type: z.literal('json_schema'),
    json_schema: z.strictObject({
      name: functionName,
      description: wellFormed.max(MAX_DESCRIPTION_CHARS).optional(),
      schema: jsonSchema.optional(),
      strict: z.boolean().nullish(),
    }),
  }),
]);

/**
 * The OpenAI chat-completions request as the gateway accepts it: the standard sampling fields,
 * tools and tool calls, `response_format`, `logprobs`, plus `retrieval`. A field the gateway
 * does not know is refused with 400 naming it, never silently dropped; `n` > 1 and image parts
 * are well-formed but not honoured (422, checked by the service so the code says why).
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
    // Any other count is well-formed and refused with its own code (chat-request.ts).
    n: z.number().int().min(1).nullish(),
    user: z.string().max(256).nullish(),
    tools: z.array(tool).min(1).max(MAX_TOOLS).nullish(),
    tool_choice: toolChoice.nullish(),
    parallel_tool_calls: z.boolean().nullish(),
    response_format: responseFormat.nullish(),
    logprobs: z.boolean().nullish(),
    top_logprobs: z.number().int().min(0).max(20).nullish(),
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
  })
  .refine((body) => body.tools == null || unique(body.tools.map((t) => t.function.name)), {
    message: 'tool names must be unique',
    path: ['tools'],
  })
  .refine((body) => body.tool_choice == null || body.tools != null, {
    message: 'tool_choice needs tools',
    path: ['tool_choice'],
  })
  .refine(
    (body) =>
      typeof body.tool_choice !== 'object' ||
      body.tool_choice === null ||
      body.tools?.some((t) => t.function.name === (body.tool_choice as Named).function.name),
    { message: 'tool_choice names a function that is not in tools', path: ['tool_choice'] },
  )
  .refine((body) => body.top_logprobs == null || body.logprobs === true, {
    message: 'top_logprobs needs logprobs: true',
    path: ['top_logprobs'],
  });
interface Named {
  readonly function: { readonly name: string };
}
function unique(names: readonly string[]): boolean {
  return new Set(names).size === names.length;
}
export type ChatRequest = z.infer<typeof chatRequestSchema>;
export type ChatRequestMessage = ChatRequest['messages'][number];

/** A tool call in an answer, in the OpenAI wire shape. */
export interface WireToolCall {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

/** A passage the answer cites (API.md). */
export interface Citation {
  readonly document_id: string;
  readonly chunk_index: number;
  readonly title: string;
  /** The page of the file the passage is on, when known (PDF). */
  readonly page?: number;
  /** The heading path above the passage, when there is one. */
  readonly section?: string;
}

/** The standard `chat.completion` object plus `citations` (and `extractive` without a model). */
export interface ChatCompletion {
  readonly id: string;
  readonly object: 'chat.completion';
  readonly created: number;
  readonly model: string;
  readonly choices: readonly {
    readonly index: 0;
    readonly message: {
      readonly role: 'assistant';
      readonly content: string | null;
      readonly refusal: null;
      readonly tool_calls?: readonly WireToolCall[];
    };
    readonly finish_reason: string;
    readonly logprobs: unknown;
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
