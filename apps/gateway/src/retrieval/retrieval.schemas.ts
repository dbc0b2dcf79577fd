import { z } from 'zod';

const scalar = z.union([z.string().max(1_000), z.number().finite(), z.boolean()]);

/**
 * A caller's filter: metadata equality only (a list means any of its values). The isolation
 * layer turns it into a Qdrant filter nested inside the tenant's own scope; the caller never
 * writes Qdrant filter syntax, so `should`/`must_not` tricks have nothing to attach to.
 */
export const retrievalFilterSchema = z.strictObject({
  metadata: z
    .record(
      z
        .string()
        .regex(
          /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/,
          'metadata keys must match ^[A-Za-z_][A-Za-z0-9_.-]{0,63}$',
        ),
      z.union([
        scalar,
        z
          .array(z.union([z.string().max(1_000), z.number().finite()]))
          .min(1)
          .max(32),
      ]),
    )
    .refine((m) => Object.keys(m).length <= 16, 'at most 16 metadata conditions'),
});
export type RetrievalFilter = z.infer<typeof retrievalFilterSchema>;

/** The most passages one retrieve may ask for. */
export const MAX_TOP_K = 100;

export const retrieveSchema = z.strictObject({
  query: z
    .string()
    .max(4_000)
    .refine((q) => q.trim().length > 0, 'must not be empty')
    .refine((q) => q.isWellFormed(), 'must be valid Unicode'),
  top_k: z.number().int().min(1).max(MAX_TOP_K).default(5),
  filter: retrievalFilterSchema.optional(),
  expand_graph: z.boolean().default(true),
});
export type RetrieveBody = z.infer<typeof retrieveSchema>;

/** One passage of the answer (API.md). */
export interface RetrievedChunk {
  readonly document_id: string;
  readonly chunk_index: number;
  readonly title: string;
  /** The page of the file the passage is on, when known (PDF). */
  readonly page?: number;
  /** The heading path above the passage (`Methods > Sampling`), when there is one. */
  readonly section?: string;
  readonly text: string;
  readonly score: number;
}
