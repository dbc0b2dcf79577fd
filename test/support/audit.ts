import type pg from 'pg';

/** Runs `fn` on one connection in a transaction with the tenant or MSP settings set. */
export async function scoped<T>(
  pool: pg.Pool,
  settings: { tenantId?: string; mspId?: string },
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `SELECT set_config('app.tenant_id', $1, true), set_config('app.msp_id', $2, true)`,
      [settings.tenantId ?? '', settings.mspId ?? ''],
    );
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** An audit row as the tests look at it. */
export interface AuditRow {
  seq: string;
  id: string;
  tenant_id: string | null;
  msp_id: string | null;
  actor: string;
  action: string;
  outcome: string;
  status: number;
  request_id: string;
  details: Record<string, unknown>;
  hash: string;
  prev_hash: string;
}

/** Which chain to read: a tenant's, an MSP's or the platform stream. */
export type ChainRef = { tenantId: string } | { mspId: string } | 'platform';

/** The events of one chain with `requestId` (or all of them), read as `pool`'s role. */
export async function chainEvents(
  pool: pg.Pool,
  chain: ChainRef,
  requestId?: string,
): Promise<AuditRow[]> {
  const tenant = typeof chain === 'object' && 'tenantId' in chain;
  const settings =
    chain === 'platform'
      ? { mspId: '.platform' }
      : 'tenantId' in chain
        ? { tenantId: chain.tenantId }
        : { mspId: chain.mspId };
  const table = tenant ? 'audit_events' : 'audit_control_events';
  return scoped(pool, settings, async (client) => {
    const result = await client.query<AuditRow>(
      `SELECT * FROM ${table} WHERE ($1::text IS NULL OR request_id = $1) ORDER BY seq`,
      [requestId ?? null],
    );
    return result.rows;
  });
}
