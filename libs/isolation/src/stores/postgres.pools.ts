import pg from 'pg';
import { unsafeRoleProblems } from '../db/role-check.js';
import { withTimeout, type StoreProbe } from './store-probe.js';

/** Connection settings for PostgreSQL. */
export interface PostgresOptions {
  /** The gateway role: owns nothing, cannot bypass row-level security. */
  readonly url: string;
  readonly poolMax: number;
}

/** Which pool: request traffic, or the small control-plane pool. */
export type PoolPlane = 'gateway' | 'control';

const planes = new WeakMap<PostgresPools, Record<PoolPlane, pg.Pool>>();

/**
 * The raw pool of one plane, for the code of this library only (it is not exported from the
 * package): the rest of the gateway reaches PostgreSQL through the library's repositories.
 */
export function poolOf(pools: PostgresPools, plane: PoolPlane): pg.Pool {
  const pool = planes.get(pools)?.[plane];
  if (pool === undefined) throw new Error('PostgresPools not initialised');
  return pool;
}

/**
 * The gateway's PostgreSQL pools, as the unprivileged gateway role: one for request traffic,
 * and a small separate one for the control plane (provisioning and checkpoints hold a
 * connection while they work), so it can never starve, or be starved by, request traffic.
 */
export class PostgresPools implements StoreProbe {
  readonly store = 'postgres' as const;

  constructor(options: PostgresOptions) {
    const gateway = new pg.Pool({
      connectionString: options.url,
      max: options.poolMax,
      connectionTimeoutMillis: 2_000,
      // A query that has not answered in 5 s fails (503) instead of holding its request until a
      // hung server returns; the connection is then destroyed (see inTransaction).
      query_timeout: 5_000,
      idleTimeoutMillis: 30_000,
      application_name: 'isogate-gateway',
    });
    // A pool emits 'error' for idle clients whose server went away; without a listener the
    // process would crash. The pool drops such clients itself.
    gateway.on('error', () => undefined);
    const control = new pg.Pool({
      connectionString: options.url,
      max: 4,
      connectionTimeoutMillis: 2_000,
      idleTimeoutMillis: 10_000,
      application_name: 'isogate-control',
    });
    control.on('error', () => undefined);
    planes.set(this, { gateway, control });
  }

  async ping(): Promise<void> {
    await withTimeout(poolOf(this, 'gateway').query('SELECT 1'), 2_000, 'postgres ping');
  }

  /**
   * What is wrong with the gateway's database role for row-level security to hold: a
   * superuser, BYPASSRLS or the owner of a tenant table. Empty when it is safe.
   */
  async roleProblems(): Promise<string[]> {
    return unsafeRoleProblems(poolOf(this, 'gateway'));
  }

  async close(): Promise<void> {
    await Promise.all([poolOf(this, 'gateway').end(), poolOf(this, 'control').end()]);
  }
}
