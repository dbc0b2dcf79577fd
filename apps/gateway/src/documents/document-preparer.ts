import { createHash, createHmac } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import canonicalize from 'canonicalize';
import { applyPii, tenantMetadataIndexer, TenantKeys, type PiiPolicy } from '@isogate/isolation';
import {
  chunkDocument,
  countTokens,
  DEFAULT_CHUNK_OPTIONS,
  extractEntities,
  indexText,
  LEXICAL_VERSION,
  lexicalText,
} from '@isogate/embeddings';
import type { LogicalModel } from '@isogate/models';
import { DENSE_EMBEDDER, type Embedder } from '../embeddings/embeddings.module.js';
import type { IndexedChunk, IndexedDocument, MetadataValue } from './document-index.js';
import type { CreateDocumentBody } from './document.schemas.js';

/** A document ready to be written: processed, chunked, embedded and sealed. */
export interface PreparedDocument {
  /** The title as stored (after the PII rules), for the answer. */
  readonly title: string;
  readonly tokens: number;
  /** Title, text and metadata (a JSON object), sealed for PostgreSQL. */
  readonly sealed: { readonly title: Buffer; readonly text: Buffer; readonly metadata: Buffer };
  readonly indexed: IndexedDocument;
}

/**
 * Turns a document as a caller sent it into what the stores receive. The tenant's PII rules
 * run first, on title, text and metadata, so nothing later (chunks, BM25 terms, embeddings,
 * graph entities) ever sees the raw values. Text and metadata are sealed with the tenant's
 * data key; graph entities are keyed digests under it, so the graph holds no text of the
 * tenant at all.
 */
@Injectable()
export class DocumentPreparer {
  constructor(
    @Inject(TenantKeys) private readonly keys: TenantKeys,
    @Inject(DENSE_EMBEDDER) private readonly embedder: Embedder | null,
  ) {}

  /**
   * @param again a document already stored, indexed anew for a re-embedding: its PII rules
   * ran when it was first written, `model` embeds it and it keeps its `version` (chunk ids)
   */
  async prepare(
    id: string,
    body: CreateDocumentBody,
    pii: PiiPolicy,
    again?: { readonly model: LogicalModel; readonly version: string },
  ): Promise<PreparedDocument> {
    const [prepared] = await this.prepareMany([{ id, body }], pii, again);
    return prepared as PreparedDocument;
  }

  /**
   * `prepare` for many documents, their chunks embedded together (the embedder sends as many
   * texts per request as its upstream takes), in the order given.
   */
  async prepareMany(
    items: readonly { readonly id: string; readonly body: CreateDocumentBody }[],
    pii: PiiPolicy,
    again?: { readonly model: LogicalModel; readonly version: string },
  ): Promise<PreparedDocument[]> {
    const clean = again === undefined ? pii : NO_PII_RULES;
    const cleaned = items.map(({ id, body }) => {
      const title = applyPii(body.title, clean).text;
      const text = applyPii(body.text, clean).text;
      const metadata = redactMetadata(body.metadata, clean);
      const chunks = chunkDocument({ title, text: text.trim().length > 0 ? text : title });
      const texts = chunks.map((chunk) => indexText(title, chunk));
      return { id, title, text, metadata, chunks, texts };
    });
    const model = again?.model ?? (await this.embedder?.current());
    const dense =
      this.embedder === null || model === undefined
        ? undefined
        : await this.embedder.embed(
            cleaned.flatMap((doc) => doc.texts),
            model,
          );
    const entityKey = await this.keys.subkey('entity');
    // Qdrant gets keyed digests of the metadata pairs only; the values stay sealed in PostgreSQL.
    const blindIndex = await tenantMetadataIndexer(this.keys);
    const prepared: PreparedDocument[] = [];
    let offset = 0;
    for (const { id, title, text, metadata, chunks, texts } of cleaned) {
      const vectors = dense?.slice(offset, offset + texts.length);
      offset += texts.length;
      const terms = metadataTerms(metadata);
      const sealedTitle = await this.keys.sealText(title);
      const metadataIndex = Object.entries(metadata).map(([key, value]) => blindIndex(key, value));
      const indexedChunks: IndexedChunk[] = [];
      for (const [position, chunk] of chunks.entries()) {
        const vector = vectors?.[position];
        indexedChunks.push({
          index: chunk.index,
          // The dense model reads the natural text; only BM25 gets the lexical variants.
          indexText: lexicalText(texts[position] ?? chunk.text),
          sealedText: await this.keys.sealText(chunk.text),
          ...(chunk.page !== undefined ? { page: chunk.page } : {}),
          ...(chunk.heading !== undefined
            ? { sealedSection: await this.keys.sealText(chunk.heading) }
            : {}),
          ...(vector !== undefined ? { dense: vector } : {}),
          entities: extractEntities(chunk.text, terms).map((entity) => ({
            key: createHmac('sha256', entityKey).update(entity.key).digest('base64url'),
            kind: entity.kind,
          })),
        });
      }
      prepared.push({
        title,
        tokens: countTokens(title) + countTokens(text),
        sealed: {
          title: await this.keys.seal(title),
          text: await this.keys.seal(text),
          metadata: await this.keys.seal(JSON.stringify(metadata)),
        },
        indexed: {
          id,
          version: again?.version ?? this.version(id, { title, text, metadata }, model),
          sealedTitle,
          metadataIndex,
          chunks: indexedChunks,
        },
      });
    }
    return prepared;
  }

  /** A digest of the processed document and of how it was indexed: a new one gets new ids. */
  private version(id: string, content: unknown, model: LogicalModel | undefined): string {
    const canonical = canonicalize({
      id,
      content,
      chunking: DEFAULT_CHUNK_OPTIONS,
      // Chunks carry their page and section: points written before that get new ids.
      positions: 1,
      lexical: LEXICAL_VERSION,
      dense: model === undefined ? null : (model.dimensions ?? 0),
    });
    return createHash('sha256')
      .update(canonical ?? '')
      .digest('hex');
  }
}

/** What a text already cleaned by the tenant's rules meets again: nothing. */
const NO_PII_RULES: PiiPolicy = { mode: 'off' };

function redactMetadata(
  metadata: Readonly<Record<string, MetadataValue>>,
  pii: PiiPolicy,
): Record<string, MetadataValue> {
  return Object.fromEntries(
    Object.entries(metadata).map(([key, value]) => [
      key,
      typeof value === 'string' ? applyPii(value, pii).text : value,
    ]),
  );
}

/** The terms a document's metadata names: its string values, split at commas and semicolons. */
function metadataTerms(metadata: Readonly<Record<string, MetadataValue>>): string[] {
  return Object.values(metadata)
    .filter((value): value is string => typeof value === 'string')
    .flatMap((value) => value.split(/[;,]/))
    .map((term) => term.trim())
    .filter((term) => term.length >= 2 && term.length <= 100);
}
