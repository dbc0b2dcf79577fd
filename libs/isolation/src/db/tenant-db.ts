import type pg from 'pg';
import { poolOf, type PoolPlane, type PostgresPools } from '../stores/postgres.pools.js';
import { TenantContext, TENANT_ID_PATTERN } from '../context/tenant-context.js';
import { WaitClock } from '../context/wait-clock.js';
import { IsogateError, StoreUnavailableError } from '../errors/isogate-error.js';
import { HeldConnection } from './held-connection.js';
import {
  inTransaction,
  isConnectionFailure,
  readInTransaction,
  type SessionSettings,
  type SqlSession,
} from './sql-session.js';

export { isConnectionFailure } from './sql-session.js';

export type { SqlSession } from './sql-session.js';

async function guarded<T>(operation: string, work: () => Promise<T>): Promise<T> {
  try {
    return await WaitClock.measure(work);
  } catch (error) {
    if (error instanceof IsogateError) throw error;
    if (isConnectionFailure(error))
      throw new StoreUnavailableError('postgres', { cause: error, operation });
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
    return guarded('tenant transaction', () => inTransaction(this.pool, { tenantId }, fn));
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
    return guarded(`scoped read ${read}`, async () => {
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
    return guarded('tenant read', () => readInTransaction<Row>(this.pool, { tenantId }, sql));
  }
}

type Transact = <T>(
  settings: SessionSettings,
  fn: (session: SqlSession) => Promise<T>,
) => Promise<T>;

/** The control-plane transactions of an operator: scoped to its MSP, or to one of its tenants. */
export interface ControlTransactions {
  /** Runs `fn` scoped to the current operator's MSP. */
  mspTransaction<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` scoped to the operator's MSP and to `tenantId`. The tenant must belong to the
   * MSP: the check runs inside the same transaction, through the MSP's own row-level policy.
   */
  tenantOfMspTransaction<T>(tenantId: string, fn: (session: SqlSession) => Promise<T>): Promise<T>;
}

/**
 * Control-plane access for operators: transactions scoped to the caller's MSP, and, where a
 * provisioning step must touch a tenant's own rows, to one named tenant of that MSP.
 */
export class ControlDb implements ControlTransactions {
  private readonly pool: pg.Pool;

  readonly #scoped: ControlTransactions;

  constructor(pools: PostgresPools) {
    this.pool = poolOf(pools, 'control');
    this.#scoped = mspScoped((settings, fn) => inTransaction(this.pool, settings, fn));
  }

  async mspTransaction<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    return this.#scoped.mspTransaction(fn);
  }

  async tenantOfMspTransaction<T>(
    tenantId: string,
    fn: (session: SqlSession) => Promise<T>,
  ): Promise<T> {
    return this.#scoped.tenantOfMspTransaction(tenantId, fn);
  }

  /**
   * Runs `work` holding the advisory lock `lockName` (across gateway processes), with every
   * transaction of `work` on the one connection that holds the lock. When another session
   * holds it, nothing waits: the connection goes back to the pool and `whenBusy` answers.
   */
  async exclusively<T>(
    lockName: string,
    work: (db: ControlTransactions) => Promise<T>,
    whenBusy: () => Promise<T>,
  ): Promise<T> {
    requireMspId();
    const held = await guarded('open control connection', () => HeldConnection.open(this.pool));
    let locked = false;
    try {
      locked = await guarded('take advisory lock', () => held.tryLock(lockName));
      if (locked) return await work(mspScoped((settings, fn) => held.transaction(settings, fn)));
    } finally {
      if (locked) await held.unlock(lockName);
      held.release();
    }
    return whenBusy();
  }
}

function mspScoped(transact: Transact): ControlTransactions {
  return {
    async mspTransaction(fn) {
      const mspId = requireMspId();
      return guarded('control transaction', () => transact({ mspId }, fn));
    },
    async tenantOfMspTransaction(tenantId, fn) {
      const mspId = requireMspId();
      if (!TENANT_ID_PATTERN.test(tenantId))
        throw new IsogateError('not_found', 'Tenant not found');
      return guarded('control transaction', () =>
        transact({ mspId, tenantId }, async (session) => {
          const owned = await session.query('SELECT 1 FROM tenants WHERE id = $1 AND msp_id = $2', [
            tenantId,
            mspId,
          ]);
          if (owned.length === 0) throw new IsogateError('not_found', 'Tenant not found');
          return fn(session);
        }),
      );
    },
  };
}

function requireMspId(): string {
  const context = TenantContext.require();
  if (context.kind !== 'operator')
    throw new IsogateError('forbidden', 'This operation needs an operator token');
  return context.mspId;
}
