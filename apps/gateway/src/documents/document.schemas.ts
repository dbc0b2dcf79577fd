import { z } from 'zod';

/** A client's document id: printable, no slashes, so it is safe in a URL path. */
export const DOCUMENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/;
const METADATA_KEY = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/** Text that is valid Unicode: a lone surrogate (`\ud800` in JSON) cannot be stored faithfully. */
const wellFormed = (value: string) => value.isWellFormed();

const metadataValue = z.union([
  z.string().max(1_000).refine(wellFormed, 'must be valid Unicode'),
  z.number().finite(),
  z.boolean(),
]);

export const metadataSchema = z
  .record(
    z.string().regex(METADATA_KEY, 'metadata keys must match ^[A-Za-z_][A-Za-z0-9_.-]{0,63}$'),
    metadataValue,
  )
  .refine((m) => Object.keys(m).length <= 32, 'at most 32 metadata keys');

export const createDocumentSchema = z
  .strictObject({
    id: z.string().regex(DOCUMENT_ID, 'must match ^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$').optional(),
    title: z.string().max(1_000).refine(wellFormed, 'must be valid Unicode').default(''),
    text: z.string().refine(wellFormed, 'must be valid Unicode'),
    metadata: metadataSchema.default({}),
  })
  // A record with a title alone (common in bibliographic collections) is a document; one
  // with neither text nor title is not.
  .refine((doc) => doc.text.trim().length > 0 || doc.title.trim().length > 0, {
    message: 'text must not be empty (unless the document has a title)',
    path: ['text'],
  });
export type CreateDocumentBody = z.infer<typeof createDocumentSchema>;

/** Documents per batch at most: within the 16 MiB body limit, one round of index writes. */
export const MAX_BATCH_DOCUMENTS = 1_000;

/** A batch: each item is checked on its own, so one bad item does not refuse the others. */
export const batchDocumentsSchema = z.strictObject({
  documents: z.array(z.unknown()).min(1).max(MAX_BATCH_DOCUMENTS),
});
export type BatchDocumentsBody = z.infer<typeof batchDocumentsSchema>;

export const listDocumentsSchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(1_000).optional(),
});
export type ListDocumentsQuery = z.infer<typeof listDocumentsSchema>;

/** A document as the list shows it. */
export interface DocumentSummary {
  readonly id: string;
  readonly title: string;
  readonly metadata: Record<string, string | number | boolean>;
  readonly chunks: number;
  readonly tokens: number;
  readonly created_at: string;
  readonly updated_at: string;
}

/** A document with its stored (PII-processed) text. */
export interface DocumentView extends DocumentSummary {
  readonly text: string;
}
