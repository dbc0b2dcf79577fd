import { ControlDb } from '../db/tenant-db.js';
import type { ModelPolicy } from '../lifecycle/tenant-record.js';
import type { PostgresPools } from '../stores/postgres.pools.js';

/** An MSP's default model policy as its operator reads it. */
export interface MspPolicyRecord {
  readonly policy: ModelPolicy;
  /** When it was last set; null while the MSP has none (`{}` applies). */
  readonly updated_at: string | null;
}

/**
 * The default model policy of the operator's MSP, which applies to every tenant of it. The MSP
 * comes from the context, and the row policy limits every statement to that MSP's row.
 */
export class MspPolicyRepository {
  readonly #db: ControlDb;

  constructor(pools: PostgresPools) {
    this.#db = new ControlDb(pools);
  }

  async read(): Promise<MspPolicyRecord> {
    const rows = await this.#db.mspTransaction((s) =>
      s.query<{ policy: ModelPolicy; updated_at: Date }>(
        'SELECT policy, updated_at FROM msp_policies',
      ),
    );
    const row = rows[0];
    return row === undefined
      ? { policy: {}, updated_at: null }
      : { policy: row.policy, updated_at: row.updated_at.toISOString() };
  }

  /** Replaces the MSP's default policy; its tenants' requests follow within 2 seconds. */
  async replace(policy: ModelPolicy): Promise<MspPolicyRecord> {
    const rows = await this.#db.mspTransaction((s) =>
      s.query<{ policy: ModelPolicy; updated_at: Date }>(
        `INSERT INTO msp_policies (msp_id, policy) VALUES (current_setting('app.msp_id'), $1)
         ON CONFLICT (msp_id) DO UPDATE SET policy = EXCLUDED.policy, updated_at = now()
         RETURNING policy, updated_at`,
        [policy],
      ),
    );
    const row = rows[0] as { policy: ModelPolicy; updated_at: Date };
    return { policy: row.policy, updated_at: row.updated_at.toISOString() };
  }
}
