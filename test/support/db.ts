import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { PostgresPools } from '@isogate/isolation';
import { requireTestEnv } from './env.js';

/** A unique tenant-shaped id for one test. */
export const freshId = (prefix = 't'): string => `${prefix}-${randomUUID().slice(0, 8)}`;

/** A pool on the test database as `role`: the owner (migrations) or a superuser (tampering). */
export function testPool(role: 'owner' | 'superuser' | 'gateway'): pg.Pool {
  const variable = {
    owner: 'TEST_DATABASE_ADMIN_URL',
    superuser: 'TEST_DATABASE_SUPERUSER_URL',
    gateway: 'TEST_DATABASE_URL',
  }[role];
  return new pg.Pool({ connectionString: requireTestEnv(variable), max: 4 });
}

/** The library's pools on the test database as `role`, for the library's own classes. */
export function testPools(role: 'owner' | 'gateway'): PostgresPools {
  const variable = role === 'owner' ? 'TEST_DATABASE_ADMIN_URL' : 'TEST_DATABASE_URL';
  return new PostgresPools({ url: requireTestEnv(variable), poolMax: 4 });
}

/**
 * Writes a tenant row directly (as the owner, through the MSP's own policy), for tests that
 * need a tenant to exist in PostgreSQL but not in the other stores.
 */
export async function seedTenantRow(
  pool: pg.Pool,
  id: string,
  mspId: string,
  status = 'active',
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT set_config('app.msp_id', $1, true)`, [mspId]);
    await client.query(
      `INSERT INTO tenants (id, msp_id, name, status) VALUES ($1, $2, $1, $3)
       ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status`,
      [id, mspId, status],
    );
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}
