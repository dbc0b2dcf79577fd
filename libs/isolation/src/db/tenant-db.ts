import type pg from 'pg';
import { poolOf, type PoolPlane, type PostgresPools } from '../stores/postgres.pools.js';
import { TenantContext, TENANT_ID_PATTERN } from '../context/tenant-context.js';
import { WaitClock } from '../context/wait-clock.js';
import { IsogateError, StoreUnavailableError } from '../errors/isogate-error.js';
import {
  inTransaction,
  isConnectionFailure,
  readInTransaction,
  type SqlSession,
} from './sql-session.js';

export { isConnectionFailure } from './sql-session.js';

export type { SqlSession } from './sql-session.js';

async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await WaitClock.measure(work);
  } catch (error) {
    if (error instanceof IsogateError) throw error;
    if (isConnectionFailure(error)) throw new StoreUnavailableError('postgres');
    throw error;
  }
}

/**
 * The tenant-scoped read functions of the database (migration 0003): each takes the tenant id
 * first, sets it for its own statement, and reads under row-level security.
 */
const SCOPED_READS = {
  /** `(ids text[])` → the ready documents among `ids`: `{id, content_sha256}`. */
  document_versions: 'SELECT id, content_sha256 FROM scoped_document_versions($1, $2)',
  /** `()` → `{version}`: the tenant's corpus version, bumped by every document change. */
  corpus_version: 'SELECT scoped_corpus_version($1) AS version',
} as const;

/** A read `TenantDb.scopedRead` can make. */
export type ScopedRead = keyof typeof SCOPED_READS;

/**
 * Data-plane access to PostgreSQL: every transaction runs with the current tenant set, and
 * row-level security in the database limits it to that tenant's rows. No method takes a tenant.
 */
export class TenantDb {
  private readonly pool: pg.Pool;

  constructor(pools: PostgresPools, plane: PoolPlane = 'gateway') {
    this.pool = poolOf(pools, plane);
  }

  /** Runs `fn` in a transaction scoped to the tenant of the current context. */
  async transaction<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const tenantId = TenantContext.requireTenantId();
    return guarded(() => inTransaction(this.pool, { tenantId }, fn));
  }

  /**
   * One of the tenant-scoped reads, for the current tenant, in one round trip (a prepared
   * statement): for the reads on every request, where a transaction's three round trips would
   * cost more than the read.
   */
  async scopedRead<Row extends object>(
    read: ScopedRead,
    args: readonly unknown[] = [],
  ): Promise<Row[]> {
    const tenantId = TenantContext.requireTenantId();
    return guarded(async () => {
      const result = await this.pool.query<Row>({
        name: `isogate_${read}`,
        text: SCOPED_READS[read],
        values: [tenantId, ...args],
      });
      return result.rows;
    });
  }

  /**
   * One constant read (a single SELECT without parameters) scoped to the current tenant, in
   * one round trip. Row-level security limits it as it limits `transaction`.
   */
  async read<Row extends object>(sql: string): Promise<Row[]> {
    const tenantId = TenantContext.requireTenantId();
    return guarded(() => readInTransaction<Row>(this.pool, { tenantId }, sql));
  }
}

/**
 * Control-plane access for operators: transactions scoped to the caller's MSP, and, where a
 * provisioning step must touch a tenant's own rows, to one named tenant of that MSP.
 */
export class ControlDb {
  private readonly pool: pg.Pool;

  constructor(pools: PostgresPools) {
    this.pool = poolOf(pools, 'control');
  }

  /** Runs `fn` scoped to the current operator's MSP. */
  async mspTransaction<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const mspId = ControlDb.requireMspId();
    return guarded(() => inTransaction(this.pool, { mspId }, fn));
  }

  /**
   * Runs `fn` scoped to the operator's MSP and to `tenantId`. The tenant must belong to the
   * MSP: the check runs inside the same transaction, through the MSP's own row-level policy.
   */
  async tenantOfMspTransaction<T>(
    tenantId: string,
    fn: (session: SqlSession) => Promise<T>,
  ): Promise<T> {
    const mspId = ControlDb.requireMspId();
    if (!TENANT_ID_PATTERN.test(tenantId)) throw new IsogateError('not_found', 'Tenant not found');
    return guarded(() =>
      inTransaction(this.pool, { mspId, tenantId }, async (session) => {
        const owned = await session.query('SELECT 1 FROM tenants WHERE id = $1 AND msp_id = $2', [
          tenantId,
          mspId,
        ]);
        if (owned.length === 0) throw new IsogateError('not_found', 'Tenant not found');
        return fn(session);
      }),
    );
  }

  private static requireMspId(): string {
    const context = TenantContext.require();
    if (context.kind !== 'operator')
      throw new IsogateError('forbidden', 'This operation needs an operator token');
    return context.mspId;
  }
}

/**
 * The edge's view of tenants: whether a token's tenant exists and is active. It runs before a
 * context is open, so it names the tenant, and can read nothing but that tenant's own row.
 */
export class TenantDirectory {
  private readonly pool: pg.Pool;

  constructor(pools: PostgresPools) {
    this.pool = poolOf(pools, 'gateway');
  }

  /** The tenant's status, or undefined when there is no such tenant. */
  async status(tenantId: string): Promise<string | undefined> {
    if (!TENANT_ID_PATTERN.test(tenantId)) return undefined;
    const rows = await guarded(() =>
      inTransaction(this.pool, { tenantId }, (s) =>
        s.query<{ status: string }>('SELECT status FROM tenants WHERE id = $1', [tenantId]),
      ),
    );
    return rows[0]?.status;
  }
}
