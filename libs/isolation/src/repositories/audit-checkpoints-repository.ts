import { TenantContext } from '../context/tenant-context.js';
import { autocommitStatement, type AutocommitStatement } from '../db/autocommit-statement.js';
import type { SqlSession } from '../db/sql-session.js';
import { TenantDb } from '../db/tenant-db.js';
import type { PoolPlane, PostgresPools } from '../stores/postgres.pools.js';
import { EVENT_COLUMNS, type AuditEventRow } from './audit-event-row.js';

/** A signed checkpoint of a tenant chain: periodic (archived with its segment) or prune (a cut). */
export interface AuditCheckpointRow {
  readonly seq: number;
  readonly head_hash: string;
  readonly ts: Date;
  readonly kind: 'periodic' | 'prune';
  readonly key_id: string;
  readonly signature: string;
}

/** A signed checkpoint to record: where the chain is cut or vouched for, and by which key. */
export interface NewCheckpoint {
  readonly seq: number;
  readonly head_hash: string;
  /** ISO 8601, exactly as signed. */
  readonly ts: string;
  readonly key_id: string;
  readonly signature: string;
  readonly archive_key: string | null;
}

/** A periodic checkpoint to record, once its segment is archived. */
export interface NewPeriodicCheckpoint extends NewCheckpoint {
  readonly retention_days: number;
}

/** What the due list names: a tenant chain and its head seq. */
export interface DueChain {
  readonly tenantId: string;
  readonly headSeq: number;
}

/** When a chain is due: `everyEvents` since its last checkpoint, or a first unsigned event this old. */
export interface DueRule {
  readonly everyEvents: number;
  readonly intervalSeconds: number;
  /** Most chains to answer. */
  readonly limit: number;
  /** Only these tenants (all when undefined). */
  readonly only?: readonly string[];
}

/** The current tenant's chain as a checkpointer sees it. */
export interface CheckpointedChain {
  readonly headSeq: number;
  /** The last checkpoint (periodic or prune), where the next segment starts; none yet: undefined. */
  readonly last: { readonly seq: number; readonly hash: string } | undefined;
  /** The tenant's retention; once the tenant is deleted, the one its last checkpoint recorded. */
  readonly retentionDays: number;
}

/** What one checkpoint transaction of the current tenant's chain may do. */
export interface CheckpointSession {
  /** Takes the chain's checkpoint lock until the transaction ends; false: another process has it. */
  tryLockChain(): Promise<boolean>;
  /** The chain's head, last checkpoint and retention; undefined for a chain without events. */
  chain(): Promise<CheckpointedChain | undefined>;
  /** The chain's events after seq `afterSeq` up to `lastSeq`, in seq order. */
  eventsThrough(afterSeq: number, lastSeq: number): Promise<AuditEventRow[]>;
  /** Records a periodic checkpoint (a retry that finds it recorded changes nothing). */
  recordPeriodic(checkpoint: NewPeriodicCheckpoint): Promise<void>;
}

/** Retention when neither the tenant row nor an earlier checkpoint says (the tenants default). */
const DEFAULT_RETENTION_DAYS = 2190;

/**
 * Signed checkpoints of tenant chains: which chains are due (one statement across chains, ids
 * and counts only), the current tenant's checkpoints, and the transaction a checkpointer signs
 * a segment in.
 */
export class AuditCheckpointsRepository {
  readonly #statement: AutocommitStatement;
  readonly #db: TenantDb;

  constructor(pools: PostgresPools, plane: PoolPlane = 'gateway') {
    this.#statement = autocommitStatement(pools, plane);
    this.#db = new TenantDb(pools, plane);
  }

  /** The tenant chains that need a checkpoint by `rule`, the furthest behind first. */
  async dueChains(rule: DueRule): Promise<DueChain[]> {
    const rows = await this.#statement<{ tenant_id: string; head_seq: string }>(
      'SELECT tenant_id, head_seq FROM audit_checkpoints_due($1, $2, $3, $4)',
      [rule.everyEvents, rule.intervalSeconds, rule.limit, rule.only ?? null],
    );
    return rows.map((r) => ({ tenantId: r.tenant_id, headSeq: Number(r.head_seq) }));
  }

  /** Every checkpoint of the current tenant's chain, oldest first. */
  async list(): Promise<AuditCheckpointRow[]> {
    const rows = await this.#db.transaction((s) =>
      s.query<Omit<AuditCheckpointRow, 'seq'> & { seq: string }>(
        'SELECT seq, head_hash, ts, kind, key_id, signature FROM audit_checkpoints ORDER BY seq, kind',
      ),
    );
    return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
  }

  /** Runs `work` in one transaction on the current tenant's chain. */
  async inChainTransaction<T>(work: (session: CheckpointSession) => Promise<T>): Promise<T> {
    const tenantId = TenantContext.requireTenantId();
    return this.#db.transaction((s) => work(checkpointSession(s, tenantId)));
  }
}

function checkpointSession(s: SqlSession, tenantId: string): CheckpointSession {
  return {
    async tryLockChain() {
      const [lock] = await s.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked',
        [`isogate:audit:cp:${tenantId}`],
      );
      return lock?.locked === true;
    },
    async chain() {
      const [row] = await s.query<{
        seq: string;
        cp_seq: string | null;
        cp_hash: string | null;
        retention: number;
      }>(
        `SELECT h.seq, c.seq AS cp_seq, c.head_hash AS cp_hash,
                COALESCE((SELECT retention_days FROM tenants),
                         (SELECT retention_days FROM audit_checkpoints
                           WHERE retention_days IS NOT NULL ORDER BY seq DESC LIMIT 1),
                         $1) AS retention
           FROM audit_heads h
           LEFT JOIN LATERAL (SELECT seq, head_hash FROM audit_checkpoints
                               ORDER BY seq DESC LIMIT 1) c ON true`,
        [DEFAULT_RETENTION_DAYS],
      );
      if (row === undefined) return undefined;
      return {
        headSeq: Number(row.seq),
        last:
          row.cp_seq === null || row.cp_hash === null
            ? undefined
            : { seq: Number(row.cp_seq), hash: row.cp_hash },
        retentionDays: row.retention,
      };
    },
    eventsThrough(afterSeq, lastSeq) {
      return s.query<AuditEventRow>(
        `SELECT ${EVENT_COLUMNS} FROM audit_events WHERE seq > $1 AND seq <= $2 ORDER BY seq`,
        [afterSeq, lastSeq],
      );
    },
    async recordPeriodic(c) {
      await s.execute(
        `INSERT INTO audit_checkpoints
           (tenant_id, seq, head_hash, ts, kind, key_id, signature, archive_key, retention_days)
         VALUES ($1, $2, $3, $4, 'periodic', $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
        [
          tenantId,
          c.seq,
          c.head_hash,
          c.ts,
          c.key_id,
          c.signature,
          c.archive_key,
          c.retention_days,
        ],
      );
    },
  };
}
