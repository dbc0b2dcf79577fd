import { z } from 'zod';

const instant = z.iso.datetime({ offset: true });
const range = { from: instant.optional(), to: instant.optional() };
const limit = z.coerce.number().int().min(1).max(1000).default(100);

export const eventsQuerySchema = z.strictObject({
  ...range,
  action: z.string().min(1).max(200).optional(),
  outcome: z.enum(['ok', 'denied', 'error']).optional(),
  limit,
  cursor: z
    .string()
    .regex(/^\d{1,18}$/, 'is not a cursor this API gave')
    .optional(),
});
export type EventsQuery = z.infer<typeof eventsQuerySchema>;

export const exportQuerySchema = z.strictObject({
  ...range,
  format: z.enum(['jsonl', 'csv']).default('jsonl'),
});
export type ExportQuery = z.infer<typeof exportQuerySchema>;

export const manifestQuerySchema = z.strictObject({
  ...range,
  format: z.enum(['jsonl', 'csv']).default('csv'),
  /** The `x-audit-last-seq` the export answered with; pins the manifest to the same events. */
  last_seq: z.coerce.number().int().min(0).optional(),
});
export type ManifestQuery = z.infer<typeof manifestQuerySchema>;

export const interactionsQuerySchema = z.strictObject({
  ...range,
  limit,
  cursor: z.string().max(200).optional(),
});
export type InteractionsQuery = z.infer<typeof interactionsQuerySchema>;

export const noQuerySchema = z.strictObject({});
