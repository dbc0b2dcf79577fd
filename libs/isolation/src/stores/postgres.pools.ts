import pg from 'pg';
import { withTimeout, type StoreProbe } from './store-probe.js';

/** Connection settings for PostgreSQL. */
export interface PostgresOptions {
  /** The gateway role: owns nothing, cannot bypass row-level security. */
  readonly url: string;
  readonly poolMax: number;
}

/** The gateway's PostgreSQL pool, as the unprivileged gateway role. */
export class PostgresPools implements StoreProbe {
  readonly store = 'postgres' as const;
  readonly gateway: pg.Pool;
  /**
   * A small separate pool for the control plane (tenant provisioning holds an advisory lock on
   * one connection while it works), so it can never starve, or be starved by, request traffic.
   */
  readonly control: pg.Pool;

  constructor(options: PostgresOptions) {
    this.gateway = new pg.Pool({
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
    this.gateway.on('error', () => undefined);
    this.control = new pg.Pool({
      connectionString: options.url,
      max: 4,
      connectionTimeoutMillis: 2_000,
      idleTimeoutMillis: 10_000,
      application_name: 'isogate-control',
    });
    this.control.on('error', () => undefined);
  }

  async ping(): Promise<void> {
    await withTimeout(this.gateway.query('SELECT 1'), 2_000, 'postgres ping');
  }

  async close(): Promise<void> {
    await Promise.all([this.gateway.end(), this.control.end()]);
  }
}
