import type { SqlSession, TenantDb } from '../db/tenant-db.js';
import type { MetadataScalar } from '../keys/blind-index.js';

/** A document as PostgreSQL holds it: title, text and metadata sealed with the tenant's data key. */
export interface StoredDocument {
  readonly id: string;
  readonly sealedTitle: Buffer;
  /** Present when the read asked for the text (`findReady`), absent in list pages. */
  readonly sealedText?: Buffer;
  /** The sealed JSON object of the metadata; absent on a row written before it was sealed. */
  readonly sealedMetadata?: Buffer;
  /** The clear metadata of a row written before metadata was sealed; empty on any other. */
  readonly legacyMetadata: Readonly<Record<string, MetadataScalar>>;
  readonly chunks: number;
  readonly tokens: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** A list entry, with the exact position it holds in the list (microseconds kept). */
export interface ListedDocument extends StoredDocument {
  readonly position: { readonly created: string; readonly id: string };
}

/** The sealed title and text a document's row is reserved with. */
export interface SealedContent {
  readonly title: Buffer;
  readonly text: Buffer;
}

/** A version's sealed title, text and metadata (a JSON object). */
export interface SealedDocument extends SealedContent {
  readonly metadata: Buffer;
}

/** What a finished write makes visible. */
export interface DocumentVersion {
  readonly sealed: SealedDocument;
  readonly chunks: number;
  readonly tokens: number;
  readonly bytes: number;
  /** The digest of the version; the chunks in the indexes carry it too. */
  readonly version: string;
}

interface DocumentRow {
  id: string;
  title_enc: Buffer;
  text_enc?: Buffer;
  metadata_enc: Buffer | null;
  metadata: Record<string, MetadataScalar>;
  chunks: number;
  tokens: number;
  created_at: Date;
  updated_at: Date;
  created_key?: string;
}

/**
 * The generations of the tenant's collection that a write must keep right: the one retrieval
 * reads, and the one a re-embedding is building, if any.
 */
export interface VectorGenerations {
  readonly current: number;
  readonly building: number | undefined;
}

/**
 * The tenant's vector generation moved on (a re-embedding switched it) after the write read
 * it: what the write embedded belongs to the old generation. Nothing was made visible; the
 * write is to be prepared again.
 */
export class VectorGenerationChanged extends Error {
  constructor() {
    super("The tenant's vectors moved to a new generation during the write");
    this.name = 'VectorGenerationChanged';
  }
}

/**
 * Held shared by every document write for the length of its transaction, and exclusively by
 * the switch to a new vector generation, so no write is half in the old generation and half
 * in the new. Its own statement: a statement's snapshot is taken before it waits for a lock.
 */
export const SHARE_GENERATION = `SELECT pg_advisory_xact_lock_shared(
  hashtextextended(current_setting('app.tenant_id', true) || ':*generation*', 0))`;
export const HOLD_GENERATION = `SELECT pg_advisory_xact_lock(
  hashtextextended(current_setting('app.tenant_id', true) || ':*generation*', 0))`;
const READ_GENERATIONS = `SELECT t.vector_generation AS current, r.generation AS building
  FROM tenants t LEFT JOIN reembeds r ON r.tenant_id = t.id AND r.status = 'running'`;

/** Bumped with every document change; the response cache keys on it. */
export const BUMP_CORPUS = `INSERT INTO corpus_versions (tenant_id, version)
  VALUES (current_setting('app.tenant_id', true), 1)
  ON CONFLICT (tenant_id) DO UPDATE SET version = corpus_versions.version + 1`;
/**
 * Serializes writers of one document of one tenant for the length of a transaction. The
 * tenant is the transaction's own setting, so one tenant's lock never waits on another's.
 */
export const LOCK_DOCUMENT = `SELECT pg_advisory_xact_lock(
  hashtextextended(current_setting('app.tenant_id', true) || ':' || $1, 0))`;
/** The lock name of the tenant's document count (not a valid document id). */
const COUNT_LOCK = '*count*';

const SUMMARY_COLUMNS =
  'id, title_enc, metadata_enc, metadata, chunks, tokens, created_at, updated_at';

/**
 * The documents table of the current tenant: every statement runs in a `TenantDb`
 * transaction, so row-level security limits it to that tenant's rows, and no method takes a
 * tenant. Where a write must hold a document's lock while other stores are written, the
 * method takes that work as a callback and runs it inside the transaction.
 */
export class DocumentsRepository {
  constructor(private readonly db: TenantDb) {}

  /**
   * The current version (content digest) of each of `ids` that is ready, in one round trip:
   * the check every retrieve makes that a passage shown is of its document's current version.
   */
  async currentVersions(ids: readonly string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db.scopedRead<{ id: string; content_sha256: string }>(
      'document_versions',
      [ids],
    );
    return new Map(rows.map((row) => [row.id, row.content_sha256]));
  }

  /** The tenant's corpus version, bumped by every document change, in one round trip. */
  async corpusVersion(): Promise<string> {
    const rows = await this.db.scopedRead<{ version: string | null }>('corpus_version');
    return rows[0]?.version ?? '0';
  }

  /**
   * Makes sure a row exists for the document, invisible (`writing`) until a write completes,
   * under the tenant's count lock so concurrent creations cannot together pass `maxDocuments`.
   * False when the document is new and the tenant already holds `maxDocuments`.
   */
  async reserve(id: string, sealed: SealedContent, maxDocuments: number): Promise<boolean> {
    return this.db.transaction(async (s) => {
      await s.query(LOCK_DOCUMENT, [COUNT_LOCK]);
      const existing = await s.query('SELECT 1 FROM documents WHERE id = $1', [id]);
      if (existing.length > 0) return true;
      const [{ count } = { count: '0' }] = await s.query<{ count: string }>(
        'SELECT count(*) AS count FROM documents',
      );
      if (Number(count) >= maxDocuments) return false;
      await s.query(
        `INSERT INTO documents (tenant_id, id, title_enc, text_enc, content_sha256, state)
         VALUES (current_setting('app.tenant_id', true), $1, $2, $3, '', 'writing')
         ON CONFLICT DO NOTHING`,
        [id, sealed.title, sealed.text],
      );
      return true;
    });
  }

  /**
   * Writes a reserved document's new version under its lock: `writeIndexes` runs first (it is
   * told the version PostgreSQL shows now, if any), then the row is made visible at `next`
   * and the corpus version bumped, in one transaction. Undefined when the row is gone (a
   * delete finished meanwhile).
   * @param generation the vector generation `next` was embedded for
   * @throws VectorGenerationChanged when that is no longer the tenant's (nothing written)
   */
  async publish(
    id: string,
    next: DocumentVersion,
    generation: number,
    writeIndexes: (current: string | undefined) => Promise<void>,
  ): Promise<{ createdAt: Date } | undefined> {
    return this.db.transaction(async (s) => {
      await s.query(LOCK_DOCUMENT, [id]);
      const generations = await readGenerations(s);
      if (generations.current !== generation) throw new VectorGenerationChanged();
      const before = await s.query<{ content_sha256: string }>(
        'SELECT content_sha256 FROM documents WHERE id = $1 FOR UPDATE',
        [id],
      );
      await writeIndexes(before[0]?.content_sha256);
      const rows = await s.query<{ created_at: Date }>(
        `UPDATE documents SET title_enc = $2, text_enc = $3, metadata_enc = $4, metadata = '{}',
           chunks = $5,
           tokens = $6, bytes = $7, content_sha256 = $8, state = 'ready', updated_at = now()
         WHERE id = $1 RETURNING created_at`,
        [
          id,
          next.sealed.title,
          next.sealed.text,
          next.sealed.metadata,
          next.chunks,
          next.tokens,
          next.bytes,
          next.version,
        ],
      );
      await s.query(BUMP_CORPUS);
      const row = rows[0];
      return row === undefined ? undefined : { createdAt: row.created_at };
    });
  }

  /**
   * `reserve` for many documents in one transaction: answers the ids that may be written
   * (existing ones, and new ones while the tenant stays within `maxDocuments`, in the order
   * given); the others would pass the limit.
   */
  async reserveMany(
    documents: readonly { readonly id: string; readonly sealed: SealedContent }[],
    maxDocuments: number,
  ): Promise<Set<string>> {
    if (documents.length === 0) return new Set();
    return this.db.transaction(async (s) => {
      await s.query(LOCK_DOCUMENT, [COUNT_LOCK]);
      const ids = documents.map((doc) => doc.id);
      const existing = await s.query<{ id: string }>(
        'SELECT id FROM documents WHERE id = ANY($1::text[])',
        [ids],
      );
      const [{ count } = { count: '0' }] = await s.query<{ count: string }>(
        'SELECT count(*) AS count FROM documents',
      );
      const accepted = new Set(existing.map((row) => row.id));
      let room = maxDocuments - Number(count);
      const fresh = documents.filter((doc) => {
        if (accepted.has(doc.id) || room <= 0) return false;
        room--;
        accepted.add(doc.id);
        return true;
      });
      if (fresh.length > 0) {
        await s.query(
          `INSERT INTO documents (tenant_id, id, title_enc, text_enc, content_sha256, state)
           SELECT current_setting('app.tenant_id', true), d.id, d.title, d.text, '', 'writing'
             FROM unnest($1::text[], $2::bytea[], $3::bytea[]) AS d(id, title, text)
           ON CONFLICT DO NOTHING`,
          [
            fresh.map((doc) => doc.id),
            fresh.map((doc) => doc.sealed.title),
            fresh.map((doc) => doc.sealed.text),
          ],
        );
      }
      return accepted;
    });
  }

  /**
   * `publish` for many reserved documents in one transaction: every document's lock is taken
   * (in id order, so two batches cannot deadlock), `writeIndexes` runs once for all of them
   * (told the version each shows now), then every row is made visible and the corpus version
   * bumped once. Answers the creation time of each row still there (a row a deletion removed
   * meanwhile is absent).
   * @throws VectorGenerationChanged as `publish`
   */
  async publishMany(
    documents: readonly { readonly id: string; readonly next: DocumentVersion }[],
    generation: number,
    writeIndexes: (current: ReadonlyMap<string, string>) => Promise<void>,
  ): Promise<Map<string, Date>> {
    if (documents.length === 0) return new Map();
    return this.db.transaction(async (s) => {
      const ids = documents.map((doc) => doc.id);
      await s.query(
        `SELECT pg_advisory_xact_lock(
           hashtextextended(current_setting('app.tenant_id', true) || ':' || id, 0))
           FROM unnest($1::text[]) AS id ORDER BY id`,
        [ids],
      );
      const generations = await readGenerations(s);
      if (generations.current !== generation) throw new VectorGenerationChanged();
      const before = await s.query<{ id: string; content_sha256: string }>(
        'SELECT id, content_sha256 FROM documents WHERE id = ANY($1::text[]) FOR UPDATE',
        [ids],
      );
      await writeIndexes(new Map(before.map((row) => [row.id, row.content_sha256])));
      const rows = await s.query<{ id: string; created_at: Date }>(
        `UPDATE documents AS t SET title_enc = d.title, text_enc = d.text,
           metadata_enc = d.metadata, metadata = '{}', chunks = d.chunks, tokens = d.tokens,
           bytes = d.bytes, content_sha256 = d.version, state = 'ready', updated_at = now()
         FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::bytea[], $5::int[], $6::int[],
                     $7::int[], $8::text[])
              AS d(id, title, text, metadata, chunks, tokens, bytes, version)
         WHERE t.id = d.id RETURNING t.id, t.created_at`,
        [
          ids,
          documents.map((doc) => doc.next.sealed.title),
          documents.map((doc) => doc.next.sealed.text),
          documents.map((doc) => doc.next.sealed.metadata),
          documents.map((doc) => doc.next.chunks),
          documents.map((doc) => doc.next.tokens),
          documents.map((doc) => doc.next.bytes),
          documents.map((doc) => doc.next.version),
        ],
      );
      await s.query(BUMP_CORPUS);
      return new Map(rows.map((row) => [row.id, row.created_at]));
    });
  }

  /** Up to `limit` visible documents after `after`, oldest first. */
  async page(
    after: { readonly created: string; readonly id: string } | undefined,
    limit: number,
  ): Promise<ListedDocument[]> {
    const rows = await this.db.transaction((s) =>
      s.query<DocumentRow>(
        `SELECT ${SUMMARY_COLUMNS}, created_at::text AS created_key
           FROM documents
          WHERE state = 'ready' AND ($1::timestamptz IS NULL OR (created_at, id) > ($1::timestamptz, $2))
          ORDER BY created_at, id LIMIT $3`,
        [after?.created ?? null, after?.id ?? '', limit],
      ),
    );
    return rows.map((row) => ({
      ...toStored(row),
      position: { created: row.created_key ?? '', id: row.id },
    }));
  }

  /** A visible document with its sealed text, or undefined (missing and another tenant's alike). */
  async findReady(id: string): Promise<StoredDocument | undefined> {
    const rows = await this.db.transaction((s) =>
      s.query<DocumentRow>(
        `SELECT ${SUMMARY_COLUMNS}, text_enc FROM documents WHERE id = $1 AND state = 'ready'`,
        [id],
      ),
    );
    const row = rows[0];
    return row === undefined ? undefined : toStored(row);
  }

  /**
   * Hides a document (`deleting`) and bumps the corpus version, committed, so no read shows
   * it while it is removed from the indexes. False when there is no such document.
   */
  async hide(id: string): Promise<boolean> {
    return this.db.transaction(async (s) => {
      await s.query(LOCK_DOCUMENT, [id]);
      const count = await s.execute(
        `UPDATE documents SET state = 'deleting', updated_at = now() WHERE id = $1`,
        [id],
      );
      if (count > 0) await s.query(BUMP_CORPUS);
      return count > 0;
    });
  }

  /**
   * Removes a hidden document under its lock: `removeIndexes` runs first, told every vector
   * generation it must be removed from, then the row is deleted. Nothing happens when the
   * document was written again meanwhile (no longer `deleting`): the new document stands.
   */
  async removeHidden(
    id: string,
    removeIndexes: (generations: VectorGenerations) => Promise<void>,
  ): Promise<void> {
    await this.db.transaction(async (s) => {
      await s.query(LOCK_DOCUMENT, [id]);
      const generations = await readGenerations(s);
      const state = await s.query<{ state: string }>(
        'SELECT state FROM documents WHERE id = $1 FOR UPDATE',
        [id],
      );
      if (state[0]?.state !== 'deleting') return;
      await removeIndexes(generations);
      await s.execute('DELETE FROM documents WHERE id = $1', [id]);
    });
  }
}

/** The tenant's vector generations, read under the shared generation lock (held till commit). */
async function readGenerations(s: SqlSession): Promise<VectorGenerations> {
  await s.query(SHARE_GENERATION);
  const rows = await s.query<{ current: number; building: number | null }>(READ_GENERATIONS);
  const row = rows[0];
  return { current: row?.current ?? 0, building: row?.building ?? undefined };
}

function toStored(row: DocumentRow): StoredDocument {
  return {
    id: row.id,
    sealedTitle: row.title_enc,
    ...(row.text_enc !== undefined ? { sealedText: row.text_enc } : {}),
    ...(row.metadata_enc !== null ? { sealedMetadata: row.metadata_enc } : {}),
    legacyMetadata: row.metadata,
    chunks: row.chunks,
    tokens: row.tokens,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
