import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { IsogateError, TenantContext, TenantDb, TenantKeys } from '@isogate/isolation';
import { DocumentIndex } from './document-index.js';
import { DocumentPreparer } from './document-preparer.js';
import type {
  CreateDocumentBody,
  DocumentSummary,
  DocumentView,
  ListDocumentsQuery,
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

interface DocumentRow {
  id: string;
  title_enc: Buffer;
  text_enc?: Buffer;
  metadata: Record<string, string | number | boolean>;
  chunks: number;
  tokens: number;
  created_at: Date;
  updated_at: Date;
  created_key?: string;
}

/** Bumped with every document change; the response cache keys on it. */
const BUMP_CORPUS = `INSERT INTO corpus_versions (tenant_id, version) VALUES ($1, 1)
  ON CONFLICT (tenant_id) DO UPDATE SET version = corpus_versions.version + 1`;
/** Serializes writers of one document of one tenant for the length of a transaction. */
const LOCK_DOCUMENT = `SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))`;

/**
 * Documents of the current tenant: PostgreSQL holds the sealed document and is the authority
 * on which version of it is visible; Qdrant and the graph hold its chunks. A write stores the
 * new version in the indexes first and makes it visible in PostgreSQL last, so a failure
 * part-way leaves either the old document or none, never half of one.
 */
@Injectable()
export class DocumentsService {
  constructor(
    @Inject(TenantDb) private readonly db: TenantDb,
    @Inject(TenantKeys) private readonly keys: TenantKeys,
    @Inject(TenantSettings) private readonly settings: TenantSettings,
    @Inject(DocumentIndex) private readonly index: DocumentIndex,
    @Inject(DocumentPreparer) private readonly preparer: DocumentPreparer,
  ) {}

  /** Creates a document, or replaces the one with the same id. */
  async put(body: CreateDocumentBody): Promise<WrittenDocument> {
    const tenantId = TenantContext.requireTenantId();
    const settings = await this.settings.current();
    const bytes = Buffer.byteLength(body.title) + Buffer.byteLength(body.text);
    if (bytes > settings.maxDocumentBytes) {
      throw new IsogateError(
        'document_too_large',
        `The document is ${bytes} bytes; this tenant's limit is ${settings.maxDocumentBytes}`,
      );
    }
    const id = body.id ?? randomUUID();
    const prepared = await this.preparer.prepare(id, body, settings.pii);
    await this.reserve(tenantId, id, settings.maxDocuments, prepared.sealed);
    const written = await this.db.transaction(async (s) => {
      await s.query(LOCK_DOCUMENT, [tenantId, id]);
      const before = await s.query<{ content_sha256: string; state: string }>(
        'SELECT content_sha256, state FROM documents WHERE id = $1 FOR UPDATE',
        [id],
      );
      try {
        await this.index.write(prepared.indexed);
        await this.index.removeOtherVersions(id, prepared.indexed.version);
      } catch (error) {
        if (before[0]?.content_sha256 !== prepared.indexed.version) {
          await this.index.removeVersion(id, prepared.indexed.version).catch(() => undefined);
        }
        throw error;
      }
      const rows = await s.query<DocumentRow>(
        `UPDATE documents SET title_enc = $2, text_enc = $3, metadata = $4, chunks = $5,
           tokens = $6, bytes = $7, content_sha256 = $8, state = 'ready', updated_at = now()
         WHERE id = $1 RETURNING id, created_at`,
        [
          id,
          prepared.sealed.title,
          prepared.sealed.text,
          prepared.indexed.metadata,
          prepared.indexed.chunks.length,
          prepared.tokens,
          bytes,
          prepared.indexed.version,
        ],
      );
      await s.query(BUMP_CORPUS, [tenantId]);
      return rows[0];
    });
    if (written === undefined)
      throw new IsogateError('conflict', 'The document changed meanwhile; retry');
    return {
      id,
      title: prepared.title,
      chunks: prepared.indexed.chunks.length,
      tokens: prepared.tokens,
      created_at: written.created_at.toISOString(),
    };
  }

  /**
   * Makes sure a row exists for the document before its chunks are written, checking the
   * tenant's document limit. Under a per-tenant lock for a moment only, so concurrent creations
   * cannot together pass the limit. The row stays invisible (`writing`) until the write is done.
   */
  private async reserve(
    tenantId: string,
    id: string,
    maxDocuments: number,
    sealed: { title: Buffer; text: Buffer },
  ): Promise<void> {
    await this.db.transaction(async (s) => {
      await s.query(LOCK_DOCUMENT, [tenantId, '*count*']);
      const existing = await s.query('SELECT 1 FROM documents WHERE id = $1', [id]);
      if (existing.length > 0) return;
      const [{ count } = { count: '0' }] = await s.query<{ count: string }>(
        'SELECT count(*) AS count FROM documents',
      );
      if (Number(count) >= maxDocuments) {
        throw new IsogateError(
          'document_limit_reached',
          `This tenant may hold at most ${maxDocuments} documents`,
        );
      }
      await s.query(
        `INSERT INTO documents (tenant_id, id, title_enc, text_enc, content_sha256, state)
         VALUES ($1, $2, $3, $4, '', 'writing') ON CONFLICT DO NOTHING`,
        [tenantId, id, sealed.title, sealed.text],
      );
    });
  }

  /** One page of the tenant's documents, oldest first. */
  async list(
    query: ListDocumentsQuery,
  ): Promise<{ data: DocumentSummary[]; next_cursor: string | null }> {
    const after = query.cursor === undefined ? undefined : await this.readCursor(query.cursor);
    const rows = await this.db.transaction((s) =>
      s.query<DocumentRow>(
        `SELECT id, title_enc, metadata, chunks, tokens, created_at, updated_at,
                created_at::text AS created_key
           FROM documents
          WHERE state = 'ready' AND ($1::timestamptz IS NULL OR (created_at, id) > ($1::timestamptz, $2))
          ORDER BY created_at, id LIMIT $3`,
        [after?.created ?? null, after?.id ?? '', query.limit + 1],
      ),
    );
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    const more = rows.length > query.limit && last !== undefined;
    return {
      data: await Promise.all(page.map((row) => this.summary(row))),
      next_cursor: more ? await this.writeCursor(last.created_key ?? '', last.id) : null,
    };
  }

  /** A document with its stored text; another tenant's or a missing one is 404 alike. */
  async get(id: string): Promise<DocumentView> {
    const rows = await this.db.transaction((s) =>
      s.query<DocumentRow>(
        `SELECT id, title_enc, text_enc, metadata, chunks, tokens, created_at, updated_at
           FROM documents WHERE id = $1 AND state = 'ready'`,
        [id],
      ),
    );
    const row = rows[0];
    if (row?.text_enc === undefined) throw new IsogateError('not_found', 'Document not found');
    const text = (await this.keys.open(row.text_enc)).toString('utf8');
    return { ...(await this.summary(row)), text };
  }

  /**
   * Deletes a document from every store. It is hidden first (`deleting`, committed), then
   * removed from the indexes, then from PostgreSQL: a failure part-way leaves it hidden, and
   * the same call again finishes the job.
   */
  async delete(id: string): Promise<{ id: string; deleted: true }> {
    const tenantId = TenantContext.requireTenantId();
    const hidden = await this.db.transaction(async (s) => {
      await s.query(LOCK_DOCUMENT, [tenantId, id]);
      const count = await s.execute(
        `UPDATE documents SET state = 'deleting', updated_at = now() WHERE id = $1`,
        [id],
      );
      if (count > 0) await s.query(BUMP_CORPUS, [tenantId]);
      return count > 0;
    });
    if (!hidden) throw new IsogateError('not_found', 'Document not found');
    await this.db.transaction(async (s) => {
      await s.query(LOCK_DOCUMENT, [tenantId, id]);
      const state = await s.query<{ state: string }>(
        'SELECT state FROM documents WHERE id = $1 FOR UPDATE',
        [id],
      );
      // Written again meanwhile: the new document stands.
      if (state[0]?.state !== 'deleting') return;
      await this.index.remove(id);
      await s.execute('DELETE FROM documents WHERE id = $1', [id]);
    });
    return { id, deleted: true };
  }

  private async summary(row: DocumentRow): Promise<DocumentSummary> {
    return {
      id: row.id,
      title: (await this.keys.open(row.title_enc)).toString('utf8'),
      metadata: row.metadata,
      chunks: row.chunks,
      tokens: row.tokens,
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
    };
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
