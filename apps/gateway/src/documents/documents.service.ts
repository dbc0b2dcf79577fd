import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  DocumentsRepository,
  IsogateError,
  TenantContext,
  TenantKeys,
  TenantStateCache,
  VectorGenerationChanged,
  type StoredDocument,
} from '@isogate/isolation';
import { DocumentIndex } from './document-index.js';
import { AuditScope } from '@isogate/audit';
import { errorBody, statusOf, type ErrorBody } from '../errors/error-response.js';
import { describeIssues } from '../validation/zod.pipe.js';
import { DocumentPreparer, type PreparedDocument } from './document-preparer.js';
import {
  createDocumentSchema,
  type CreateDocumentBody,
  type DocumentSummary,
  type DocumentView,
  type ListDocumentsQuery,
} from './document.schemas.js';
import { TenantSettings } from './tenant-settings.js';

/** What a write answers (API.md). */
export interface WrittenDocument {
  readonly id: string;
  readonly title: string;
  readonly chunks: number;
  readonly tokens: number;
  readonly created_at: string;
}

/** One item of a batch write: the document written, or why it was not (API.md). */
export type BatchItem =
  | ({ readonly index: number; readonly status: 201 } & WrittenDocument)
  | {
      readonly index: number;
      readonly id?: string;
      readonly status: number;
      readonly error: ErrorBody['error'];
    };

/**
 * Documents of the current tenant: PostgreSQL holds the sealed document and is the authority
 * on which version of it is visible; Qdrant and the graph hold its chunks. A write stores the
 * new version in the indexes first and makes it visible in PostgreSQL last, so a failure
 * part-way leaves either the old document or none, never half of one.
 */
@Injectable()
export class DocumentsService {
  constructor(
    @Inject(DocumentsRepository) private readonly documents: DocumentsRepository,
    @Inject(TenantKeys) private readonly keys: TenantKeys,
    @Inject(TenantSettings) private readonly settings: TenantSettings,
    @Inject(DocumentIndex) private readonly index: DocumentIndex,
    @Inject(DocumentPreparer) private readonly preparer: DocumentPreparer,
    @Inject(TenantStateCache) private readonly states: TenantStateCache,
  ) {}

  /**
   * Creates a document, or replaces the one with the same id. A write that a re-embedding's
   * switch overtook (its vectors are of the old model) is prepared once more, with the new.
   */
  async put(body: CreateDocumentBody): Promise<WrittenDocument> {
    try {
      return await this.putOnce(body);
    } catch (error) {
      if (!(error instanceof VectorGenerationChanged)) throw error;
      const context = TenantContext.require();
      this.states.forget(TenantContext.requireTenantId());
      // A context of its own: every step of the second attempt sees the tenant's state anew.
      return TenantContext.run({ ...context }, () => this.putOnce(body));
    }
  }

  /**
   * Writes many documents in one go: each item is checked and answered on its own (a bad or
   * oversized item, or one past the document limit, fails alone), and the rest are embedded
   * together, written to the indexes in shared batches and made visible in one transaction.
   * A store that fails fails the batch (503), leaving each document as it was.
   */
  async putBatch(items: readonly unknown[]): Promise<BatchItem[]> {
    try {
      return await this.putBatchOnce(items);
    } catch (error) {
      if (!(error instanceof VectorGenerationChanged)) throw error;
      const context = TenantContext.require();
      this.states.forget(TenantContext.requireTenantId());
      return TenantContext.run({ ...context }, () => this.putBatchOnce(items));
    }
  }

  private async putBatchOnce(items: readonly unknown[]): Promise<BatchItem[]> {
    const generation = (await this.states.current())?.vectorGeneration ?? 0;
    const settings = await this.settings.current();
    const results: (BatchItem | undefined)[] = items.map(() => undefined);
    const fail = (index: number, error: IsogateError, id?: string) => {
      results[index] = {
        index,
        ...(id !== undefined ? { id } : {}),
        status: statusOf(error.code).status,
        error: errorBody(error.code, error.message, error.details?.param).error,
      };
    };
    const accepted: { index: number; id: string; body: CreateDocumentBody; bytes: number }[] = [];
    const seen = new Set<string>();
    for (const [index, item] of items.entries()) {
      const parsed = createDocumentSchema.safeParse(item ?? {});
      if (!parsed.success) {
        const first = parsed.error.issues[0];
        const param = first?.path.join('.');
        fail(
          index,
          new IsogateError(
            'invalid_request',
            describeIssues(parsed.error),
            param ? { param } : undefined,
          ),
        );
        continue;
      }
      const body = parsed.data;
      const id = body.id ?? randomUUID();
      const bytes = Buffer.byteLength(body.title) + Buffer.byteLength(body.text);
      if (bytes > settings.maxDocumentBytes) {
        fail(index, tooLarge(bytes, settings.maxDocumentBytes), id);
      } else if (seen.has(id)) {
        fail(
          index,
          new IsogateError('invalid_request', 'The batch names this id twice', { param: 'id' }),
          id,
        );
      } else {
        seen.add(id);
        accepted.push({ index, id, body, bytes });
      }
    }
    const prepared = await this.preparer.prepareMany(accepted, settings.pii);
    const reserved = await this.documents.reserveMany(
      accepted.map(({ id }, at) => ({ id, sealed: (prepared[at] as PreparedDocument).sealed })),
      settings.maxDocuments,
    );
    const writing = accepted.flatMap((item, at) => {
      if (reserved.has(item.id)) return [{ ...item, prepared: prepared[at] as PreparedDocument }];
      fail(item.index, limitReached(settings.maxDocuments), item.id);
      return [];
    });
    const written = await this.documents.publishMany(
      writing.map(({ id, bytes, prepared: p }) => ({
        id,
        next: {
          sealed: p.sealed,
          chunks: p.indexed.chunks.length,
          tokens: p.tokens,
          bytes,
          version: p.indexed.version,
        },
      })),
      generation,
      async (current) => {
        const docs = writing.map(({ prepared: p }) => p.indexed);
        try {
          await this.index.writeMany(docs, generation);
          for (const doc of docs) {
            // Only a document that had a version before has one to remove.
            if (current.has(doc.id) && current.get(doc.id) !== '') {
              await this.index.removeOtherVersions(doc.id, doc.version, generation);
            }
          }
        } catch (error) {
          for (const doc of docs) {
            if (current.get(doc.id) === doc.version) continue;
            await this.index.removeVersion(doc.id, doc.version, generation).catch(() => undefined);
          }
          throw error;
        }
      },
    );
    for (const { index, id, prepared: p } of writing) {
      const createdAt = written.get(id);
      if (createdAt === undefined) {
        fail(index, new IsogateError('conflict', 'The document changed meanwhile; retry'), id);
        continue;
      }
      results[index] = {
        index,
        status: 201,
        id,
        title: p.title,
        chunks: p.indexed.chunks.length,
        tokens: p.tokens,
        created_at: createdAt.toISOString(),
      };
    }
    const answered = results as BatchItem[];
    AuditScope.annotate({
      documents: {
        items: items.length,
        written: answered.filter((item) => item.status === 201).length,
        ids: answered.flatMap((item) => (item.status === 201 ? [item.id] : [])),
      },
    });
    return answered;
  }

  private async putOnce(body: CreateDocumentBody): Promise<WrittenDocument> {
    const generation = (await this.states.current())?.vectorGeneration ?? 0;
    const settings = await this.settings.current();
    const bytes = Buffer.byteLength(body.title) + Buffer.byteLength(body.text);
    if (bytes > settings.maxDocumentBytes) throw tooLarge(bytes, settings.maxDocumentBytes);
    const id = body.id ?? randomUUID();
    const prepared = await this.preparer.prepare(id, body, settings.pii);
    if (!(await this.documents.reserve(id, prepared.sealed, settings.maxDocuments))) {
      throw limitReached(settings.maxDocuments);
    }
    const { version } = prepared.indexed;
    const next = {
      sealed: prepared.sealed,
      chunks: prepared.indexed.chunks.length,
      tokens: prepared.tokens,
      bytes,
      version,
    };
    const written = await this.documents.publish(id, next, generation, async (current) => {
      try {
        await this.index.write(prepared.indexed, generation);
        await this.index.removeOtherVersions(id, version, generation);
      } catch (error) {
        // A version PostgreSQL still shows must stay whole in the indexes.
        if (current !== version) {
          await this.index.removeVersion(id, version, generation).catch(() => undefined);
        }
        throw error;
      }
    });
    if (written === undefined)
      throw new IsogateError('conflict', 'The document changed meanwhile; retry');
    return {
      id,
      title: prepared.title,
      chunks: prepared.indexed.chunks.length,
      tokens: prepared.tokens,
      created_at: written.createdAt.toISOString(),
    };
  }

  /** One page of the tenant's documents, oldest first. */
  async list(
    query: ListDocumentsQuery,
  ): Promise<{ data: DocumentSummary[]; next_cursor: string | null }> {
    const after = query.cursor === undefined ? undefined : await this.readCursor(query.cursor);
    const rows = await this.documents.page(after, query.limit + 1);
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    const more = rows.length > query.limit && last !== undefined;
    return {
      data: await Promise.all(page.map((row) => this.summary(row))),
      next_cursor: more ? await this.writeCursor(last.position.created, last.position.id) : null,
    };
  }

  /** A document with its stored text; another tenant's or a missing one is 404 alike. */
  async get(id: string): Promise<DocumentView> {
    const row = await this.documents.findReady(id);
    if (row?.sealedText === undefined) throw new IsogateError('not_found', 'Document not found');
    const text = (await this.keys.open(row.sealedText)).toString('utf8');
    return { ...(await this.summary(row)), text };
  }

  /**
   * Deletes a document from every store. It is hidden first (`deleting`, committed), then
   * removed from the indexes, then from PostgreSQL: a failure part-way leaves it hidden, and
   * the same call again finishes the job.
   */
  async delete(id: string): Promise<{ id: string; deleted: true }> {
    if (!(await this.documents.hide(id))) throw new IsogateError('not_found', 'Document not found');
    await this.documents.removeHidden(id, (generations) => this.index.remove(id, generations));
    return { id, deleted: true };
  }

  private async summary(row: StoredDocument): Promise<DocumentSummary> {
    return {
      id: row.id,
      title: (await this.keys.open(row.sealedTitle)).toString('utf8'),
      metadata: await this.metadata(row),
      chunks: row.chunks,
      tokens: row.tokens,
      created_at: row.createdAt.toISOString(),
      updated_at: row.updatedAt.toISOString(),
    };
  }

  /** A row written before metadata was sealed still holds it in clear, until written again. */
  private async metadata(row: StoredDocument): Promise<DocumentSummary['metadata']> {
    if (row.sealedMetadata === undefined) return { ...row.legacyMetadata };
    return JSON.parse(
      (await this.keys.open(row.sealedMetadata)).toString('utf8'),
    ) as DocumentSummary['metadata'];
  }

  /** A cursor names a position in this tenant's list and carries a MAC under its key. */
  private async writeCursor(created: string, id: string): Promise<string> {
    const position = Buffer.from(JSON.stringify([created, id])).toString('base64url');
    return `${position}.${await this.keys.mac('cursor', position)}`;
  }

  private async readCursor(cursor: string): Promise<{ created: string; id: string }> {
    const [position = '', mac = ''] = cursor.split('.');
    if (!(await this.keys.verifyMac('cursor', position, mac))) {
      throw new IsogateError('invalid_request', 'The cursor is not valid for this tenant', {
        param: 'cursor',
      });
    }
    const [created, id] = JSON.parse(Buffer.from(position, 'base64url').toString()) as [
      string,
      string,
    ];
    return { created, id };
  }
}

function tooLarge(bytes: number, limit: number): IsogateError {
  return new IsogateError(
    'document_too_large',
    `The document is ${bytes} bytes; this tenant's limit is ${limit}`,
  );
}

function limitReached(limit: number): IsogateError {
  return new IsogateError(
    'document_limit_reached',
    `This tenant may hold at most ${limit} documents`,
  );
}
