import pg from 'pg';
import { TENANT_ID_PATTERN } from '../context/tenant-context.js';
import { EVENT_COLUMNS, type AuditEventRow } from './audit-event-row.js';
import type { AuditCheckpointRow, NewCheckpoint } from './audit-checkpoints-repository.js';

/** Where a chain may be cut: its latest periodic checkpoint that retention lets go. */
export interface PruneCut {
  readonly checkpoint: AuditCheckpointRow & { readonly archive_key: string | null };
  /** The previous cut (a prune checkpoint), where the remaining chain starts; none: undefined. */
  readonly previous: { readonly seq: number; readonly hash: string } | undefined;
}

/** A prune checkpoint to record at the cut. */
export type NewPruneCheckpoint = NewCheckpoint;

/** What one retention transaction on a tenant's chain may do. */
export interface RetentionSession {
  /**
   * The cut for events older than `before` and past the tenant's retention: the latest
   * periodic checkpoint after the previous cut that no younger event precedes.
   */
  findCut(before: Date): Promise<PruneCut | undefined>;
  /** Up to `limit` of the chain's events after seq `afterSeq` up to `lastSeq`, in seq order. */
  eventsThrough(afterSeq: number, lastSeq: number, limit: number): Promise<AuditEventRow[]>;
  /** Records a prune checkpoint, with the tenant's retention as it stands. */
  recordPrune(checkpoint: NewPruneCheckpoint): Promise<void>;
  /** Deletes the chain up to `seq` (`audit_prune`, which checks both checkpoints); answers how many. */
  removeThrough(seq: number, allowUnarchived: boolean): Promise<number>;
  /** Removes the content of interactions past retention and older than `before`; answers how many. */
  expireInteractions(before: Date): Promise<number>;
}

/**
 * Owner-side retention of the audit trail, as the owner role (`DATABASE_ADMIN_URL`): the
 * gateway role may not call the retention functions. One connection; every tenant's work is
 * one transaction, committed, or rolled back for a dry run.
 */
export class AuditRetentionRepository {
  readonly #pool: pg.Pool;

  constructor(ownerUrl: string) {
    this.#pool = new pg.Pool({
      connectionString: ownerUrl,
      max: 1,
      application_name: 'isogate-audit-prune',
    });
    this.#pool.on('error', () => undefined);
  }

  /** The tenants with an audit chain (only `tenantId`, when given), in id order. */
  async chains(tenantId?: string): Promise<string[]> {
    return this.transaction(true, async (client) => {
      // The owner's cross-chain read policy applies only while this is on (migration 0002).
      await client.query(`SELECT set_config('isogate.audit_scan', 'on', true)`);
      const { rows } = await client.query<{ tenant_id: string }>(
        'SELECT tenant_id FROM audit_heads WHERE $1::text IS NULL OR tenant_id = $1 ORDER BY tenant_id',
        [tenantId ?? null],
      );
      return rows.map((r) => r.tenant_id);
    });
  }

  /** Runs `work` in one transaction on `tenantId`'s chain; `commit` false rolls it back. */
  async onChain<T>(
    tenantId: string,
    commit: boolean,
    work: (session: RetentionSession) => Promise<T>,
  ): Promise<T> {
    if (!TENANT_ID_PATTERN.test(tenantId)) throw new Error(`${tenantId} is not a tenant id`);
    return this.transaction(commit, async (client) => {
      await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
      return work(retentionSession(client, tenantId));
    });
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.#pool.end();
  }

  private async transaction<T>(
    commit: boolean,
    work: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    const client = await this.#pool.connect();
    // A checked-out client whose connection dies emits 'error'; unheard, it would end the
    // process. The failure surfaces in the query that waits, and the client is destroyed.
    let broken: Error | undefined;
    const onError = (error: Error) => (broken = error);
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query(commit ? 'COMMIT' : 'ROLLBACK');
      return result;
    } catch (error) {
      // A chain that fails (a bad signature, a broken chain) leaves a usable connection for
      // the next one; only a connection that cannot even roll back is dropped.
      await client.query('ROLLBACK').catch((rollback: Error) => (broken ??= rollback));
      throw error;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }
}

function retentionSession(client: pg.PoolClient, tenantId: string): RetentionSession {
  const rows = async <Row extends pg.QueryResultRow>(text: string, values: unknown[]) =>
    (await client.query<Row>(text, values)).rows;
  return {
    async findCut(before) {
      const [limit] = await rows<{ at: Date }>(
        `SELECT LEAST($1::timestamptz, now() - make_interval(days => audit_retention_days($2))) AS at`,
        [before.toISOString(), tenantId],
      );
      const [row] = await rows<
        Omit<PruneCut['checkpoint'], 'seq'> & {
          seq: string;
          start_seq: string | null;
          start_hash: string | null;
        }
      >(
        `WITH young AS (SELECT min(seq) AS seq FROM audit_events WHERE ts >= $1),
              last AS (SELECT seq, head_hash FROM audit_checkpoints WHERE kind = 'prune'
                        ORDER BY seq DESC LIMIT 1)
         SELECT c.seq, c.head_hash, c.ts, c.kind, c.key_id, c.signature, c.archive_key,
                l.seq AS start_seq, l.head_hash AS start_hash
           FROM audit_checkpoints c LEFT JOIN last l ON true, young y
          WHERE c.kind = 'periodic' AND c.seq > COALESCE(l.seq, 0)
            AND (y.seq IS NULL OR c.seq < y.seq)
          ORDER BY c.seq DESC LIMIT 1`,
        [limit?.at],
      );
      if (row === undefined) return undefined;
      const { start_seq: startSeq, start_hash: startHash, ...checkpoint } = row;
      return {
        checkpoint: { ...checkpoint, seq: Number(checkpoint.seq) },
        previous:
          startSeq === null || startHash === null
            ? undefined
            : { seq: Number(startSeq), hash: startHash },
      };
    },
    eventsThrough(afterSeq, lastSeq, limit) {
      return rows<AuditEventRow>(
        `SELECT ${EVENT_COLUMNS} FROM audit_events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`,
        [afterSeq, lastSeq, limit],
      );
    },
    async recordPrune(c) {
      await client.query(
        `INSERT INTO audit_checkpoints
           (tenant_id, seq, head_hash, ts, kind, key_id, signature, archive_key, retention_days)
         VALUES ($1, $2, $3, $4, 'prune', $5, $6, $7, audit_retention_days($1))`,
        [tenantId, c.seq, c.head_hash, c.ts, c.key_id, c.signature, c.archive_key],
      );
    },
    async removeThrough(seq, allowUnarchived) {
      const [row] = await rows<{ removed: string }>('SELECT audit_prune($1, $2, $3) AS removed', [
        tenantId,
        seq,
        allowUnarchived,
      ]);
      return Number(row?.removed ?? 0);
    },
    async expireInteractions(before) {
      const [row] = await rows<{ n: string }>('SELECT audit_expire_interactions($1, $2) AS n', [
        tenantId,
        before.toISOString(),
      ]);
      return Number(row?.n ?? 0);
    },
  };
}
