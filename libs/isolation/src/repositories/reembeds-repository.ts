import { ControlDb, type SqlSession } from '../db/tenant-db.js';
import { IsogateError } from '../errors/isogate-error.js';
import type { PostgresPools } from '../stores/postgres.pools.js';
import { BUMP_CORPUS, HOLD_GENERATION, LOCK_DOCUMENT } from './documents-repository.js';

export type ReembedStatus = 'running' | 'completed' | 'failed';

/** A tenant's latest re-embedding, as the API shows it. */
export interface ReembedRecord {
  readonly tenant_id: string;
  /** The model the tenant's vectors came from (null: the gateway's default). */
  readonly from_model: string | null;
  readonly to_model: string;
  readonly status: ReembedStatus;
  readonly documents_total: number;
  readonly documents_done: number;
  /** Why it failed, in words for the operator (no internals). */
  readonly error: string | null;
  readonly started_at: string;
  readonly finished_at: string | null;
}

/** A started re-embedding: its record and the generation it builds (and the one it replaces). */
export interface StartedReembed {
  readonly record: ReembedRecord;
  readonly generation: number;
  readonly replaces: number;
}

/** A document as a re-embedding reads it, under its lock: sealed content and its version. */
export interface DocumentToReembed {
  readonly id: string;
  readonly version: string;
  readonly chunks: number;
  readonly sealedTitle: Buffer;
  readonly sealedText: Buffer;
  /** Absent on a row written before metadata was sealed (then `legacyMetadata` holds it). */
  readonly sealedMetadata?: Buffer;
  readonly legacyMetadata: Readonly<Record<string, unknown>>;
}

interface ReembedRow {
  tenant_id: string;
  from_model: string | null;
  to_model: string;
  status: ReembedStatus;
  documents_total: number;
  documents_done: number;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
}

interface DocumentRow {
  id: string;
  content_sha256: string;
  chunks: number;
  title_enc: Buffer;
  text_enc: Buffer;
  metadata_enc: Buffer | null;
  metadata: Record<string, unknown>;
}

/**
 * A run that has not reported progress for this long is taken to be gone with its process
 * (it reports after every document), and a new one may start.
 */
export const REEMBED_ABANDONED_AFTER_S = 120;

const COLUMNS =
  'tenant_id, from_model, to_model, status, documents_total, documents_done, error, started_at, finished_at';

/**
 * Re-embeddings of the tenants of the operator's MSP: a new generation of a tenant's vectors
 * is built from the documents PostgreSQL holds, beside the current one, and switched to in one
 * transaction once complete. Control plane: every method names its tenant and runs under the
 * MSP's row-level policy with that tenant's own set as well, so its documents are readable.
 */
export class ReembedsRepository {
  readonly #db: ControlDb;

  constructor(pools: PostgresPools) {
    this.#db = new ControlDb(pools);
  }

  /**
   * Records the start of a re-embedding to `toModel`, with the number of documents it has to
   * embed again. 409 `reembed_in_progress` while another is running for the tenant (one
   * silent for `REEMBED_ABANDONED_AFTER_S` is replaced: its process is gone).
   */
  async start(tenantId: string, toModel: string): Promise<StartedReembed> {
    return this.#db.tenantOfMspTransaction(tenantId, async (s) => {
      const [tenant] = await s.query<{
        vector_generation: number;
        embeddings_model: string | null;
      }>('SELECT vector_generation, embeddings_model FROM tenants WHERE id = $1 FOR UPDATE', [
        tenantId,
      ]);
      const [previous] = await s.query<{
        status: ReembedStatus;
        generation: number;
        abandoned: boolean;
      }>(
        `SELECT status, generation, updated_at < now() - make_interval(secs => $2) AS abandoned
           FROM reembeds WHERE tenant_id = $1`,
        [tenantId, REEMBED_ABANDONED_AFTER_S],
      );
      if (previous?.status === 'running' && !previous.abandoned) {
        throw new IsogateError(
          'reembed_in_progress',
          "A re-embedding of this tenant's documents is running; see GET /v1/tenants/{id}/reembed",
        );
      }
      const current = tenant?.vector_generation ?? 0;
      // A number never used before: a failed run's collection may not be gone yet.
      const generation = Math.max(current, previous?.generation ?? 0) + 1;
      const [{ count } = { count: '0' }] = await s.query<{ count: string }>(
        "SELECT count(*) AS count FROM documents WHERE state = 'ready'",
      );
      const rows = await s.query<ReembedRow>(
        `INSERT INTO reembeds (tenant_id, from_model, to_model, generation, status, documents_total)
         VALUES ($1, $2, $3, $4, 'running', $5)
         ON CONFLICT (tenant_id) DO UPDATE SET from_model = $2, to_model = $3, generation = $4,
           status = 'running', documents_total = $5, documents_done = 0, error = NULL,
           started_at = now(), updated_at = now(), finished_at = NULL
         RETURNING ${COLUMNS}`,
        [tenantId, tenant?.embeddings_model ?? null, toModel, generation, Number(count)],
      );
      return { record: toRecord(rows[0] as ReembedRow), generation, replaces: current };
    });
  }

  /** The tenant's latest re-embedding, if it ever had one. */
  async latest(tenantId: string): Promise<ReembedRecord | undefined> {
    return this.#db.tenantOfMspTransaction(tenantId, async (s) => {
      const rows = await s.query<ReembedRow>(
        `SELECT ${COLUMNS} FROM reembeds WHERE tenant_id = $1`,
        [tenantId],
      );
      return rows[0] === undefined ? undefined : toRecord(rows[0]);
    });
  }

  /** How many visible documents the tenant holds. */
  async documentCount(tenantId: string): Promise<number> {
    return this.#db.tenantOfMspTransaction(tenantId, async (s) => {
      const [{ count } = { count: '0' }] = await s.query<{ count: string }>(
        "SELECT count(*) AS count FROM documents WHERE state = 'ready'",
      );
      return Number(count);
    });
  }

  /** Up to `limit` ids of the tenant's visible documents after `after`, in id order. */
  async documentIds(tenantId: string, after: string, limit: number): Promise<string[]> {
    return this.#db.tenantOfMspTransaction(tenantId, async (s) => {
      const rows = await s.query<{ id: string }>(
        "SELECT id FROM documents WHERE state = 'ready' AND id > $1 ORDER BY id LIMIT $2",
        [after, limit],
      );
      return rows.map((row) => row.id);
    });
  }

  /**
   * Runs `work` on a visible document under its lock, so no write or deletion of it overlaps:
   * a deletion waits, then removes what `work` wrote too. Undefined when it is not visible.
   */
  async withDocument<T>(
    tenantId: string,
    id: string,
    work: (document: DocumentToReembed) => Promise<T>,
  ): Promise<T | undefined> {
    return this.#db.tenantOfMspTransaction(tenantId, async (s) => {
      await s.query(LOCK_DOCUMENT, [id]);
      const [row] = await readDocuments(s, 'id = $1', [id]);
      return row === undefined ? undefined : work(row);
    });
  }

  /**
   * Records how many documents the run building `generation` has done.
   * @throws IsogateError `conflict` when that run is no longer the tenant's running one
   */
  async progress(tenantId: string, generation: number, done: number): Promise<void> {
    const updated = await this.#db.tenantOfMspTransaction(tenantId, (s) =>
      s.execute(
        `UPDATE reembeds SET documents_done = $3, updated_at = now()
          WHERE tenant_id = $1 AND generation = $2 AND status = 'running'`,
        [tenantId, generation, done],
      ),
    );
    if (updated === 0) throw superseded();
  }

  /**
   * Switches the tenant to the generation being built, in one transaction that holds the
   * generation lock exclusively (no document write or deletion runs meanwhile): `reconcile` is
   * given every visible document's version and chunk count and the means to read one, makes
   * the new generation hold exactly those, then the tenant's row names the new generation and
   * model. Returns the generation switched to and the one it replaced.
   */
  async complete(
    tenantId: string,
    generation: number,
    reconcile: (
      visible: ReadonlyMap<string, { version: string; chunks: number }>,
      read: (id: string) => Promise<DocumentToReembed | undefined>,
    ) => Promise<void>,
  ): Promise<{ generation: number; replaced: number }> {
    return this.#db.tenantOfMspTransaction(tenantId, async (s) => {
      await s.query(HOLD_GENERATION);
      const [job] = await s.query<{ generation: number; to_model: string; status: string }>(
        'SELECT generation, to_model, status FROM reembeds WHERE tenant_id = $1 FOR UPDATE',
        [tenantId],
      );
      if (job?.status !== 'running' || job.generation !== generation) throw superseded();
      const versions = await s.query<{ id: string; content_sha256: string; chunks: number }>(
        "SELECT id, content_sha256, chunks FROM documents WHERE state = 'ready'",
      );
      const visible = new Map(
        versions.map((row) => [row.id, { version: row.content_sha256, chunks: row.chunks }]),
      );
      await reconcile(visible, async (id) => (await readDocuments(s, 'id = $1', [id]))[0]);
      const [before] = await s.query<{ vector_generation: number }>(
        'SELECT vector_generation FROM tenants WHERE id = $1 FOR UPDATE',
        [tenantId],
      );
      await s.execute(
        `UPDATE tenants SET vector_generation = $2, embeddings_model = $3, updated_at = now()
          WHERE id = $1`,
        [tenantId, job.generation, job.to_model],
      );
      await s.execute(
        `UPDATE reembeds SET status = 'completed', documents_done = documents_total,
           updated_at = now(), finished_at = now() WHERE tenant_id = $1`,
        [tenantId],
      );
      // Cached answers were made with the old vectors' retrieval.
      await s.query(BUMP_CORPUS);
      return { generation: job.generation, replaced: before?.vector_generation ?? 0 };
    });
  }

  /** Records that the run building `generation` failed; the tenant keeps its current vectors. */
  async fail(tenantId: string, generation: number, error: string): Promise<void> {
    await this.#db.tenantOfMspTransaction(tenantId, (s) =>
      s.execute(
        `UPDATE reembeds SET status = 'failed', error = $3, updated_at = now(),
           finished_at = now() WHERE tenant_id = $1 AND generation = $2 AND status = 'running'`,
        [tenantId, generation, error.slice(0, 500)],
      ),
    );
  }
}

function superseded(): IsogateError {
  return new IsogateError('conflict', 'The re-embedding was replaced by a later one');
}

async function readDocuments(
  s: SqlSession,
  where: string,
  params: unknown[],
): Promise<DocumentToReembed[]> {
  const rows = await s.query<DocumentRow>(
    `SELECT id, content_sha256, chunks, title_enc, text_enc, metadata_enc, metadata
       FROM documents WHERE state = 'ready' AND ${where}`,
    params,
  );
  return rows.map((row) => ({
    id: row.id,
    version: row.content_sha256,
    chunks: row.chunks,
    sealedTitle: row.title_enc,
    sealedText: row.text_enc,
    ...(row.metadata_enc !== null ? { sealedMetadata: row.metadata_enc } : {}),
    legacyMetadata: row.metadata,
  }));
}

function toRecord(row: ReembedRow): ReembedRecord {
  return {
    tenant_id: row.tenant_id,
    from_model: row.from_model,
    to_model: row.to_model,
    status: row.status,
    documents_total: row.documents_total,
    documents_done: row.documents_done,
    error: row.error,
    started_at: row.started_at.toISOString(),
    finished_at: row.finished_at?.toISOString() ?? null,
  };
}
