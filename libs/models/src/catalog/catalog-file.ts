import { z } from 'zod';
import { UPSTREAM_KINDS } from './model-catalog.js';

/** Upstream ids: what route records, audit events and breakers name. */
export const UPSTREAM_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

// Field names under which a key value would be written into the file itself.
const KEY_FIELD = /(^|_)(api_?key|key|secret|token|password|bearer|credentials?)$/i;
// A value that looks like an OpenAI-style or bearer key, wherever it was put.
const KEY_VALUE = /^(sk-|sk_|bearer\s)[A-Za-z0-9_-]{8,}/i;

/** A message for a present but invalid value; an absent one "is required". */
const invalid =
  (message: string) =>
  (issue: { readonly input?: unknown }): string =>
    issue.input === undefined ? 'is required' : message;

const positiveInt = (max: number) =>
  z
    .number({ error: invalid('must be a number') })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(max, `must be at most ${max}`);
const price = z.number({ error: invalid('must be a number') }).min(0, 'must not be negative');
const text = z.string().min(1, 'must not be empty').max(500, 'must be at most 500 characters');

const baseUrl = z
  .url({ error: invalid('must be a URL') })
  .refine((url) => /^https?:\/\//.test(url), 'must start with http: or https:')
  .refine((url) => new URL(url).username === '' && new URL(url).password === '', {
    message: 'must not carry credentials; use api_key_env or api_key_file',
  });

/** One upstream as the file writes it (snake_case, like the environment's settings). */
const upstreamEntry = z
  .strictObject({
    id: z
      .string({ error: invalid('must be a string') })
      .regex(UPSTREAM_ID, 'must be 1 to 128 letters, digits or . _ : / -'),
    kind: z.enum(UPSTREAM_KINDS, {
      error: invalid(`must be one of ${UPSTREAM_KINDS.join(', ')}`),
    }),
    purpose: z.enum(['chat', 'embeddings'], { error: invalid('must be one of chat, embeddings') }),
    base_url: baseUrl,
    api_key_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must name an environment variable, not hold a key')
      .optional(),
    api_key_file: text.optional(),
    model: text,
    deployment: text.optional(),
    api_version: text.optional(),
    region: text.optional(),
    baa: z.boolean('must be true or false').optional(),
    zero_retention: z.boolean('must be true or false').optional(),
    certifications: z.array(text.transform((name) => name.toLowerCase())).optional(),
    price: z.strictObject({ input_per_mtok: price, output_per_mtok: price }).optional(),
    context_tokens: positiveInt(10_000_000).optional(),
    dimensions: positiveInt(65_536).optional(),
    timeout_ms: positiveInt(600_000).optional(),
    max_retries: z
      .number({ error: invalid('must be a number') })
      .int('must be an integer')
      .min(0, 'must not be negative')
      .max(10, 'must be at most 10')
      .optional(),
    rate_limit: z.strictObject({ requests_per_minute: positiveInt(10_000_000) }).optional(),
  })
  .superRefine((entry, context) => {
    const problem = (path: string, message: string) =>
      context.addIssue({ code: 'custom', path: [path], message });
    if (entry.api_key_env !== undefined && entry.api_key_file !== undefined) {
      problem('api_key_file', 'set api_key_env or api_key_file, not both');
    }
    const azure = entry.kind === 'azure-openai';
    for (const field of ['deployment', 'api_version'] as const) {
      if (azure && entry[field] === undefined) problem(field, 'is required for kind azure-openai');
      if (!azure && entry[field] !== undefined) problem(field, 'applies to kind azure-openai only');
    }
    const [needed, foreign] =
      entry.purpose === 'chat'
        ? (['context_tokens', 'dimensions'] as const)
        : (['dimensions', 'context_tokens'] as const);
    if (entry[needed] === undefined) problem(needed, `is required for purpose ${entry.purpose}`);
    if (entry[foreign] !== undefined)
      problem(foreign, `does not apply to purpose ${entry.purpose}`);
  });

/** One logical model as the file writes it. */
const modelEntry = z.strictObject({
  name: z.string().regex(/^[^\s]{1,200}$/, 'must be 1 to 200 characters without spaces'),
  purpose: z.enum(['chat', 'embeddings'], { error: invalid('must be one of chat, embeddings') }),
  upstreams: z
    .array(z.string('must be an upstream id'), 'must be a list of upstream ids')
    .min(1, 'must name at least one upstream'),
});

/** The whole file. */
export const catalogFileSchema = z.strictObject({
  upstreams: z
    .array(upstreamEntry, { error: invalid('must be a list') })
    .min(1, 'must have at least one entry'),
  models: z
    .array(modelEntry, { error: invalid('must be a list') })
    .min(1, 'must have at least one entry'),
});

export type CatalogFile = z.infer<typeof catalogFileSchema>;
export type UpstreamEntry = CatalogFile['upstreams'][number];

/**
 * Fields of `entry` that would hold a key value, with the reason. Checked before the schema so
 * the message says what to do instead, and never repeats the value.
 */
export function keyValueProblems(entry: unknown): { field: string; message: string }[] {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return [];
  const problems: { field: string; message: string }[] = [];
  for (const [field, value] of Object.entries(entry)) {
    if (field === 'api_key_env' || field === 'api_key_file') {
      if (typeof value === 'string' && KEY_VALUE.test(value)) {
        problems.push({ field, message: 'holds what looks like a key; name where it is instead' });
      }
    } else if (KEY_FIELD.test(field)) {
      problems.push({
        field,
        message:
          'must not be in the file: name the environment variable (api_key_env) or the ' +
          'file (api_key_file) that holds the key',
      });
    } else if (typeof value === 'string' && KEY_VALUE.test(value)) {
      problems.push({ field, message: 'holds what looks like a key, which the file must not' });
    }
  }
  return problems;
}
