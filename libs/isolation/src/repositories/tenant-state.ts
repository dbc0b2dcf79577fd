import type pg from 'pg';
import { TENANT_ID_PATTERN } from '../context/tenant-context.js';
import { WaitClock } from '../context/wait-clock.js';
import { StoreUnavailableError } from '../errors/isogate-error.js';
import { isConnectionFailure, readInTransaction } from '../db/sql-session.js';
import type {
  ModelPolicy,
  PiiMode,
  TenantQuotas,
  TenantStatus,
} from '../lifecycle/tenant-record.js';
import { poolOf, type PostgresPools } from '../stores/postgres.pools.js';

/** What the request path needs of a tenant's own row: whether it may call, and its rules. */
export interface TenantState {
  readonly status: TenantStatus;
  readonly quotas: TenantQuotas;
  readonly pii: PiiMode;
  readonly piiPatterns: readonly string[];
  /** Whether chat requests may carry image parts. */
  readonly images: boolean;
  /** The tenant's own model policy, and its MSP's default (`{}` when it has none). */
  readonly policy: ModelPolicy;
  readonly mspPolicy: ModelPolicy;
  /** The embeddings model of the tenant's vectors (undefined: the gateway's default). */
  readonly embeddingsModel: string | undefined;
  /** The generation of the Qdrant collection that holds the tenant's vectors. */
  readonly vectorGeneration: number;
}

interface StateRow {
  status: TenantStatus;
  quotas: TenantQuotas | null;
  pii: PiiMode;
  pii_patterns: string[] | null;
  images: boolean;
  policy: ModelPolicy;
  msp_policy: ModelPolicy | null;
  embeddings_model: string | null;
  vector_generation: number;
}

// Row-level security shows a tenant its own row only, so the statement names no tenant: with
// the setting of another tenant it could not read this one's row, whatever it said.
// The MSP's default policy comes along: the tenant's row names its MSP, and the policy on
// msp_policies lets a tenant read its own MSP's row only.
const READ_STATE = `SELECT t.status, t.quotas, t.pii, t.pii_patterns, t.images, t.policy,
                           t.embeddings_model, t.vector_generation, m.policy AS msp_policy
                      FROM tenants t LEFT JOIN msp_policies m ON m.msp_id = t.msp_id`;

/**
 * Reads a tenant's state from its own row, in one round trip. It runs at the edge, before a
 * context is open, so it names the tenant; the row policy still limits it to that tenant's row.
 */
export class TenantStateReader {
  private readonly pool: pg.Pool;

  constructor(pools: PostgresPools) {
    this.pool = poolOf(pools, 'gateway');
  }

  /** The tenant's state, or undefined when there is no such tenant. */
  async read(tenantId: string): Promise<TenantState | undefined> {
    if (!TENANT_ID_PATTERN.test(tenantId)) return undefined;
    let rows: StateRow[];
    try {
      rows = await WaitClock.measure(() =>
        readInTransaction<StateRow>(this.pool, { tenantId }, READ_STATE),
      );
    } catch (error) {
      if (isConnectionFailure(error)) {
        throw new StoreUnavailableError('postgres', {
          cause: error,
          operation: 'read tenant state',
        });
      }
      throw error;
    }
    const row = rows[0];
    if (row === undefined) return undefined;
    return {
      status: row.status,
      quotas: row.quotas ?? {},
      pii: row.pii,
      piiPatterns: row.pii_patterns ?? [],
      images: row.images,
      policy: row.policy,
      mspPolicy: row.msp_policy ?? {},
      embeddingsModel: row.embeddings_model ?? undefined,
      vectorGeneration: row.vector_generation,
    };
  }
}
