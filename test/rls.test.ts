import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { TenantContext, TenantDb, TENANT_TABLES, type CallerContext } from '@isogate/isolation';
import { createGateway } from '../apps/gateway/src/gateway.js';
import { requireTestEnv, testConfig } from './support/env.js';
import { freshId, seedTenantRow, testPool, testPools } from './support/db.js';
import { unsafeRoleProblems } from '../libs/isolation/src/db/role-check.js';

const tenantCaller = (tenantId: string): CallerContext => ({
  kind: 'tenant',
  tenantId,
  subject: 'rls-test',
  roles: ['admin'],
  requestId: 'rls',
});

/** Runs `sql` as the gateway role inside a transaction with the given settings. */
async function asGateway<T extends object>(
  pool: pg.Pool,
  settings: { tenant?: string; msp?: string },
  sql: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    if (settings.tenant)
      await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [settings.tenant]);
    if (settings.msp)
      await client.query(`SELECT set_config('app.msp_id', $1, true)`, [settings.msp]);
    const result = await client.query<T>(sql, values);
    await client.query('COMMIT');
    return result.rows;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

/** On a connection outside any transaction: no tenant is set, so no document is visible. */
async function expectNoSettingLeft(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ tenant: string | null; open: string }>(
    `SELECT current_setting('app.tenant_id', true) AS tenant,
            (SELECT count(*)::text FROM documents) AS open`,
  );
  expect(rows[0]?.tenant ?? '').toBe('');
  expect(rows[0]?.open).toBe('0');
}

describe('row-level security, with the gateway bypassed', () => {
  let owner: pg.Pool;
  let gateway: pg.Pool;
  const msp = freshId('msp');
  const a = freshId('rls-a');
  const b = freshId('rls-b');

  beforeAll(async () => {
    owner = testPool('owner');
    gateway = testPool('gateway');
    await seedTenantRow(owner, a, msp);
    await seedTenantRow(owner, b, msp);
    for (const tenant of [a, b]) {
      await asGateway(
        gateway,
        { tenant },
        `INSERT INTO documents (tenant_id, id, title_enc, text_enc, content_sha256, state)
        VALUES ($1, 'doc-1', '\\x00', '\\x00', 'x', 'ready')`,
        [tenant],
      );
      await asGateway(
        gateway,
        { tenant },
        `INSERT INTO usage_daily (tenant_id, day, requests) VALUES ($1, current_date, 1)`,
        [tenant],
      );
    }
  });
  afterAll(async () => {
    await owner.end();
    await gateway.end();
  });

  it("sees its own rows with A's setting, and none of B's", async () => {
    const rows = await asGateway<{ tenant_id: string }>(
      gateway,
      { tenant: a },
      'SELECT tenant_id FROM documents',
    );
    expect(rows).toEqual([{ tenant_id: a }]);
    expect(
      await asGateway(gateway, { tenant: a }, 'SELECT 1 FROM documents WHERE tenant_id = $1', [b]),
    ).toEqual([]);
  });

  it.each(TENANT_TABLES)('sees no rows of %s at all with no setting', async (table) => {
    expect(await asGateway(gateway, {}, `SELECT * FROM ${table}`)).toEqual([]);
    expect(
      (await asGateway(gateway, { tenant: a }, `SELECT * FROM ${table}`)).length,
    ).toBeGreaterThanOrEqual(['documents', 'usage_daily', 'tenants'].includes(table) ? 1 : 0);
  });

  it("cannot move a row to B or write B's rows under A's setting; its own update works", async () => {
    await expect(
      asGateway(gateway, { tenant: a }, `UPDATE documents SET tenant_id = $1 WHERE id = 'doc-1'`, [
        b,
      ]),
    ).rejects.toThrow(/row-level security/);
    await expect(
      asGateway(
        gateway,
        { tenant: a },
        `INSERT INTO documents (tenant_id, id, title_enc, text_enc, content_sha256)
        VALUES ($1, 'planted', '\\x00', '\\x00', 'x')`,
        [b],
      ),
    ).rejects.toThrow(/row-level security/);
    const updated = await asGateway(
      gateway,
      { tenant: a },
      `UPDATE documents SET chunks = 3 WHERE id = 'doc-1' RETURNING tenant_id`,
    );
    expect(updated).toEqual([{ tenant_id: a }]);
  });

  it('cannot disable row-level security, drop a policy or take ownership', async () => {
    await expect(
      asGateway(gateway, { tenant: a }, 'ALTER TABLE documents DISABLE ROW LEVEL SECURITY'),
    ).rejects.toThrow(/owner/);
    await expect(
      asGateway(gateway, { tenant: a }, 'ALTER TABLE documents NO FORCE ROW LEVEL SECURITY'),
    ).rejects.toThrow(/owner/);
    await expect(
      asGateway(gateway, { tenant: a }, 'DROP POLICY documents_tenant ON documents'),
    ).rejects.toThrow(/owner/);
    await expect(asGateway(gateway, {}, 'SET ROLE isogate_owner')).rejects.toThrow(
      /permission denied/,
    );
    // The control: the same role can read its own rows.
    expect((await asGateway(gateway, { tenant: a }, 'SELECT 1 FROM documents')).length).toBe(1);
  });

  it("lets an operator see its MSP's tenant rows and usage, never another MSP's", async () => {
    const other = freshId('msp');
    expect(
      await asGateway(gateway, { msp: other }, 'SELECT id FROM tenants WHERE id = ANY($1)', [
        [a, b],
      ]),
    ).toEqual([]);
    const mine = await asGateway<{ id: string }>(
      gateway,
      { msp },
      'SELECT id FROM tenants WHERE id = ANY($1) ORDER BY id',
      [[a, b]],
    );
    expect(mine.map((r) => r.id).sort()).toEqual([a, b].sort());
    expect(
      (await asGateway(gateway, { msp }, 'SELECT 1 FROM usage_daily WHERE tenant_id = $1', [a]))
        .length,
    ).toBe(1);
    expect(await asGateway(gateway, { msp }, 'SELECT 1 FROM documents')).toEqual([]);
  });
});

describe('TenantDb', () => {
  let gateway: pg.Pool;
  const msp = freshId('msp');
  const a = freshId('tdb-a');
  const b = freshId('tdb-b');

  beforeAll(async () => {
    gateway = new pg.Pool({ connectionString: requireTestEnv('TEST_DATABASE_URL'), max: 1 });
    const owner = testPool('owner');
    await seedTenantRow(owner, a, msp);
    await seedTenantRow(owner, b, msp);
    await owner.end();
    // The same document id in both tenants, each at its own version; A's corpus version is 7.
    for (const tenant of [a, b]) {
      await asGateway(
        gateway,
        { tenant },
        `INSERT INTO documents (tenant_id, id, title_enc, text_enc, content_sha256, state)
        VALUES ($1, 'shared-id', '\\x00', '\\x00', $2, 'ready'),
               ($1, 'unready', '\\x00', '\\x00', 'x', 'writing')`,
        [tenant, `sha-of-${tenant}`],
      );
    }
    await asGateway(gateway, { tenant: a }, `INSERT INTO corpus_versions VALUES ($1, 7)`, [a]);
  });
  const pools = testPools('gateway');
  afterAll(async () => {
    await Promise.all([gateway.end(), pools.close()]);
  });

  it('refuses to run without a tenant context', async () => {
    const db = new TenantDb(pools);
    await expect(db.transaction((s) => s.query('SELECT 1'))).rejects.toMatchObject({
      code: 'tenant_context_missing',
    });
    const rows = await TenantContext.run(tenantCaller(a), () =>
      db.transaction((s) => s.query<{ id: string }>('SELECT id FROM tenants')),
    );
    expect(rows).toEqual([{ id: a }]);
  });

  it('scopes each transaction to the tenant of its context, on one shared connection', async () => {
    const db = new TenantDb(pools);
    const seen = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const tenant = i % 2 === 0 ? a : b;
        return TenantContext.run(tenantCaller(tenant), async () => {
          const rows = await db.transaction((s) =>
            s.query<{ id: string }>('SELECT id FROM tenants'),
          );
          return { tenant, rows: rows.map((r) => r.id) };
        });
      }),
    );
    for (const { tenant, rows } of seen) expect(rows).toEqual([tenant]);
  });

  it('discards a connection that failed, and keeps one that did not', async () => {
    const db = new TenantDb(pools);
    const pid = () =>
      TenantContext.run(tenantCaller(a), () =>
        db.transaction((s) => s.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')),
      );
    const first = (await pid())[0]?.pid;
    expect((await pid())[0]?.pid).toBe(first);
    await expect(
      TenantContext.run(tenantCaller(a), () => db.transaction((s) => s.query('SELECT 1/0'))),
    ).rejects.toThrow();
    expect((await pid())[0]?.pid).not.toBe(first);
  });

  it('scopes a one-round-trip read like a transaction, and ends its settings with it', async () => {
    const db = new TenantDb(pools);
    await expect(db.read('SELECT 1')).rejects.toMatchObject({ code: 'tenant_context_missing' });
    const seen = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const tenant = i % 2 === 0 ? a : b;
        return TenantContext.run(tenantCaller(tenant), async () => {
          const rows = await db.read<{ id: string }>('SELECT id FROM tenants');
          return { tenant, rows: rows.map((r) => r.id) };
        });
      }),
    );
    // Each sees its own row (the control) and never the other's.
    for (const { tenant, rows } of seen) expect(rows).toEqual([tenant]);
    // The same connection afterwards, outside any transaction: no tenant setting is left.
    const client = await gateway.connect();
    try {
      await expectNoSettingLeft(client);
    } finally {
      client.release();
    }
  });

  it('answers a scoped read for the tenant of its context only, in one statement', async () => {
    const db = new TenantDb(pools);
    await expect(db.scopedRead('corpus_version')).rejects.toMatchObject({
      code: 'tenant_context_missing',
    });
    const read = (tenant: string) =>
      TenantContext.run(tenantCaller(tenant), async () => ({
        versions: await db.scopedRead('document_versions', [['shared-id', 'unready', 'absent']]),
        corpus: await db.scopedRead('corpus_version'),
      }));
    // Each tenant sees its own ready version of the shared id (the control), never the other's.
    expect(await read(a)).toEqual({
      versions: [{ id: 'shared-id', content_sha256: `sha-of-${a}` }],
      corpus: [{ version: '7' }],
    });
    expect(await read(b)).toEqual({
      versions: [{ id: 'shared-id', content_sha256: `sha-of-${b}` }],
      corpus: [{ version: '0' }],
    });
  });

  it("puts back the tenant setting it found, inside another tenant's transaction", async () => {
    const client = await gateway.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [a]);
      const { rows: theirs } = await client.query(
        'SELECT content_sha256 FROM scoped_document_versions($1, $2)',
        [b, ['shared-id']],
      );
      expect(theirs).toEqual([{ content_sha256: `sha-of-${b}` }]);
      const { rows: after } = await client.query<{ tenant: string; seen: string[] }>(
        `SELECT current_setting('app.tenant_id', true) AS tenant,
                (SELECT array_agg(DISTINCT tenant_id) FROM documents) AS seen`,
      );
      expect(after).toEqual([{ tenant: a, seen: [a] }]);
      await client.query('COMMIT');
      // Outside any transaction, a call leaves no setting behind on the connection.
      await client.query('SELECT * FROM scoped_document_versions($1, $2)', [a, ['shared-id']]);
      await expectNoSettingLeft(client);
    } finally {
      client.release();
    }
  });

  it('rolls back and discards the connection of a read that failed', async () => {
    const db = new TenantDb(pools);
    const pid = () =>
      TenantContext.run(tenantCaller(a), () =>
        db.read<{ pid: number }>('SELECT pg_backend_pid() AS pid'),
      );
    const first = (await pid())[0]?.pid;
    expect((await pid())[0]?.pid).toBe(first);
    await expect(
      TenantContext.run(tenantCaller(a), () => db.read('SELECT 1/0')),
    ).rejects.toMatchObject({ code: '22012' });
    expect((await pid())[0]?.pid).not.toBe(first);
    // More than one statement is refused, not half-run.
    await expect(
      TenantContext.run(tenantCaller(a), () => db.read('SELECT 1; SELECT 2')),
    ).rejects.toThrow('exactly one statement');
  });
});

describe('the gateway role check at boot', () => {
  it('finds nothing wrong with the gateway role, and refuses the owner and a superuser', async () => {
    const pools = {
      gateway: testPool('gateway'),
      owner: testPool('owner'),
      superuser: testPool('superuser'),
    };
    try {
      expect(await unsafeRoleProblems(pools.gateway)).toEqual([]);
      expect(await unsafeRoleProblems(pools.owner)).toEqual(
        expect.arrayContaining(['role isogate_owner owns table documents']),
      );
      expect(await unsafeRoleProblems(pools.superuser)).toEqual(
        expect.arrayContaining(['role isogate_dba is a superuser']),
      );
    } finally {
      await Promise.all(Object.values(pools).map((p) => p.end()));
    }
  });

  it('refuses to start as the owner role', async () => {
    const config = testConfig({ DATABASE_URL: requireTestEnv('TEST_DATABASE_ADMIN_URL') });
    await expect(createGateway(config)).rejects.toThrow(/owns table/);
  });
});
