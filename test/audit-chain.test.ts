import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditCheckpointer, ExportSigner, eventHash, type AuditEvent } from '@isogate/audit';
import { testConfig } from './support/env.js';
import { freshId, seedTenantRow, testPool } from './support/db.js';
import { api } from './support/api.js';
import { chainEvents, scoped } from './support/audit.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';

const dir = mkdtempSync(join(tmpdir(), 'isogate-chain-'));

describe('audit: chains under concurrency, immutability and tampering', () => {
  let idp: TestIdentityProvider;
  let gateway: RunningGateway;
  const owner = testPool('owner');
  const gatewayRole = testPool('gateway');
  const superuser = testPool('superuser');
  const msp = freshId('msp');

  const tenantEvents = async (tenant: string, events: number) => {
    const user = await idp.token({ tenant_id: tenant, roles: ['user'] });
    for (let i = 0; i < events; i += 1) await api(gateway.url, user, 'GET', '/v1/models');
  };
  const tenantWithEvents = async (events: number) => {
    const tenant = freshId('chain');
    await seedTenantRow(owner, tenant, msp);
    await tenantEvents(tenant, events);
    return tenant;
  };
  const verify = async (tenant: string) => {
    const auditor = await idp.token({ tenant_id: tenant, roles: ['auditor'] });
    const response = await api(gateway.url, auditor, 'GET', '/v1/audit/verify');
    expect(response.status).toBe(200);
    return response.body as { valid: boolean; events: number; first_broken_seq: number | null };
  };
  /** Runs SQL as the database superuser with every trigger off, as an attacker would. */
  const tamper = (sql: string | string[], values: unknown[]) =>
    scoped(superuser, {}, async (client) => {
      await client.query('SET LOCAL session_replication_role = replica');
      for (const statement of typeof sql === 'string' ? [sql] : sql)
        await client.query(statement, values);
    });

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    gateway = await startGateway(
      testConfig({ ...idp.env, AUDIT_ARCHIVE_URL: `file://${join(dir, 'archive')}` }),
    );
  });
  afterAll(async () => {
    await gateway.close();
    await idp.close();
    await Promise.all([owner.end(), gatewayRole.end(), superuser.end()]);
  });

  it('keeps one linear chain for 200 concurrent requests of one tenant', async () => {
    const tenant = freshId('conc');
    await seedTenantRow(owner, tenant, msp);
    const user = await idp.token({ tenant_id: tenant, roles: ['user'] });
    const statuses = await Promise.all(
      Array.from({ length: 200 }, () =>
        api(gateway.url, user, 'GET', '/v1/models').then((r) => r.status),
      ),
    );
    expect(new Set(statuses)).toEqual(new Set([200]));
    const rows = await chainEvents(owner, { tenantId: tenant });
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(new Set(rows.map((r) => r.id)).size).toBe(200);
    expect(await verify(tenant)).toMatchObject({
      valid: true,
      events: 200,
      first_broken_seq: null,
    });
  });

  it('keeps every chain linear for 1,000 concurrent requests across 10 tenants', async () => {
    const tenants = Array.from({ length: 10 }, () => freshId('many'));
    for (const t of tenants) await seedTenantRow(owner, t, msp);
    const tokens = await Promise.all(
      tenants.map((t) => idp.token({ tenant_id: t, roles: ['user'] })),
    );
    const statuses = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        api(gateway.url, tokens[i % 10], 'GET', '/v1/models').then((r) => r.status),
      ),
    );
    expect(new Set(statuses)).toEqual(new Set([200]));
    for (const tenant of tenants) {
      const seqs = (await chainEvents(owner, { tenantId: tenant })).map((r) => Number(r.seq));
      expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(await verify(tenant)).toMatchObject({ valid: true, first_broken_seq: null });
    }
  });

  it('stores what a refused token claimed, NUL and broken UTF-16 included, failing no other chain', async () => {
    const tenant = freshId('nul');
    await seedTenantRow(owner, tenant, msp);
    const user = await idp.token({ tenant_id: tenant, roles: ['user'] });
    const stranger = await TestIdentityProvider.start();
    const forged = await stranger.token({ tenant_id: tenant, sub: 'a\u0000b\ud800c' });
    await stranger.close();
    const tag = freshId('nul');
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 4 === 0
          ? api(gateway.url, forged, 'GET', '/v1/models', undefined, {
              'x-request-id': `${tag}-${i}`,
            })
          : api(gateway.url, user, 'GET', '/v1/models'),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(
      Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? 401 : 200)),
    );
    const refused = (await chainEvents(owner, 'platform')).filter((e) =>
      e.request_id.startsWith(`${tag}-`),
    );
    expect(refused).toHaveLength(10);
    for (const row of refused) {
      expect(row.details).toMatchObject({ unverified_claims: { sub: 'a\uFFFDb\uFFFDc' } });
      const { hash, ...unsealed } = row as unknown as AuditEvent & { scope: string };
      const event = { ...unsealed, seq: Number(row.seq), ts: new Date(unsealed.ts).toISOString() };
      delete (event as { scope?: string }).scope;
      expect(eventHash(event)).toBe(hash);
    }
    expect(await verify(tenant)).toMatchObject({ valid: true, events: 30 });
  });

  it.each([
    ['UPDATE audit_events SET actor = $2 WHERE tenant_id = $1', ['mallory']],
    ['DELETE FROM audit_events WHERE tenant_id = $1', []],
    ['TRUNCATE audit_events', []],
  ])('refuses the gateway role: %s', async (sql, extra) => {
    const tenant = await tenantWithEvents(1);
    const values = sql.includes('$1') ? [tenant, ...extra] : [];
    await expect(
      scoped(gatewayRole, { tenantId: tenant }, (c) => c.query(sql, values)),
    ).rejects.toMatchObject({
      code: '42501',
    });
    expect(await chainEvents(owner, { tenantId: tenant })).toHaveLength(1);
  });

  it.each([
    ['UPDATE audit_events SET actor = $2 WHERE tenant_id = $1', ['mallory']],
    ['DELETE FROM audit_events WHERE tenant_id = $1', []],
    ['TRUNCATE audit_events', []],
    ['DELETE FROM audit_heads WHERE tenant_id = $1', []],
  ])('refuses even the owner, by trigger: %s', async (sql, extra) => {
    const tenant = await tenantWithEvents(1);
    await expect(
      scoped(owner, { tenantId: tenant }, (c) =>
        c.query(sql, sql.includes('$1') ? [tenant, ...extra] : []),
      ),
    ).rejects.toThrow(/append-only/);
    expect(await chainEvents(owner, { tenantId: tenant })).toHaveLength(1);
  });

  it('refuses an insert that does not extend the head (no fork, no gap), even from the owner', async () => {
    const tenant = await tenantWithEvents(2);
    const [first] = await chainEvents(owner, { tenantId: tenant });
    await expect(
      scoped(owner, { tenantId: tenant }, (c) =>
        c.query(
          `INSERT INTO audit_events (tenant_id, seq, id, ts, actor, roles, action, outcome, status, request_id, prev_hash, hash)
           VALUES ($1, 2, gen_random_uuid(), now(), 'x', '{}', 'x', 'ok', 200, 'x', $2, $2)`,
          [tenant, first?.hash],
        ),
      ),
    ).rejects.toThrow(/does not extend the chain|duplicate key/);
  });

  it.each([
    [
      'a changed field',
      'UPDATE audit_events SET actor = $2 WHERE tenant_id = $1 AND seq = 3',
      ['mallory'],
      3,
    ],
    ['a deleted middle row', 'DELETE FROM audit_events WHERE tenant_id = $1 AND seq = 3', [], 3],
    ['deleted newest rows', 'DELETE FROM audit_events WHERE tenant_id = $1 AND seq >= 5', [], 5],
    [
      'swapped seq numbers',
      [
        'UPDATE audit_events SET seq = seq + 1000000 WHERE tenant_id = $1 AND seq IN (2, 3)',
        'UPDATE audit_events SET seq = 1000005 - seq WHERE tenant_id = $1 AND seq > 1000000',
      ],
      [],
      2,
    ],
    [
      'reordered rows',
      `UPDATE audit_events e SET ts = o.ts, request_id = o.request_id FROM audit_events o
        WHERE e.tenant_id = $1 AND o.tenant_id = $1 AND ((e.seq = 2 AND o.seq = 3) OR (e.seq = 3 AND o.seq = 2))`,
      [],
      2,
    ],
    [
      'an inserted row (head moved too)',
      `WITH ins AS (INSERT INTO audit_events (tenant_id, seq, id, ts, actor, roles, action, outcome, status, request_id, prev_hash, hash)
         SELECT $1, seq + 1, gen_random_uuid(), now(), 'mallory', '{}', 'GET /v1/models', 'ok', 200, 'forged', hash, repeat('a', 64)
           FROM audit_heads WHERE tenant_id = $1 RETURNING seq, hash)
       UPDATE audit_heads h SET seq = ins.seq, hash = ins.hash FROM ins WHERE h.tenant_id = $1`,
      [],
      8, // 6 events, then the verify call's own (7), then the forged one
    ],
  ])('reports %s with the first bad seq', async (_name, sql, extra, brokenAt) => {
    const tenant = await tenantWithEvents(6);
    expect(await verify(tenant)).toMatchObject({ valid: true });
    await tamper(sql, [tenant, ...extra]);
    expect(await verify(tenant)).toMatchObject({ valid: false, first_broken_seq: brokenAt });
  });

  it('reports an event inserted beyond the head the trigger keeps', async () => {
    const tenant = await tenantWithEvents(3);
    await tamper(
      `INSERT INTO audit_events (tenant_id, seq, id, ts, actor, roles, action, outcome, status, request_id, prev_hash, hash)
       SELECT $1, 10, gen_random_uuid(), now(), 'mallory', '{}', 'x', 'ok', 200, 'forged', repeat('b', 64), repeat('c', 64)`,
      [tenant],
    );
    expect(await verify(tenant)).toMatchObject({ valid: false, first_broken_seq: 4 });
  });

  describe('a cut tail, against the last signed checkpoint', () => {
    /** Deletes the newest events from `seq` on and moves the head back, leaving no trace there. */
    const cutTail = (tenant: string, seq: number) =>
      tamper(
        `WITH gone AS (DELETE FROM audit_events WHERE tenant_id = $1 AND seq >= $2 RETURNING seq)
         UPDATE audit_heads h SET seq = e.seq, hash = e.hash
           FROM audit_events e WHERE h.tenant_id = $1 AND e.tenant_id = $1 AND e.seq = $2 - 1`,
        [tenant, seq],
      );

    it('reports the first missing seq when the head was moved back too', async () => {
      const tenant = await tenantWithEvents(6);
      const [checkpoint] = await gateway.app.get(AuditCheckpointer).checkpointTenant(tenant);
      expect(checkpoint?.seq).toBe(6);
      await tenantEvents(tenant, 2);
      expect(await verify(tenant)).toMatchObject({ valid: true });
      await cutTail(tenant, 4); // seq 4..6 are covered by the checkpoint, 7..8 are not
      expect(await verify(tenant)).toMatchObject({ valid: false, first_broken_seq: 4 });
    });

    it('is caught offline with the archived checkpoint even when its row is deleted as well', async () => {
      const tenant = await tenantWithEvents(6);
      const [checkpoint] = await gateway.app.get(AuditCheckpointer).checkpointTenant(tenant);
      await cutTail(tenant, 5);
      await tamper('DELETE FROM audit_checkpoints WHERE tenant_id = $1', [tenant]);
      const auditor = await idp.token({ tenant_id: tenant, roles: ['auditor'] });
      const exported = await fetch(`${gateway.url}/v1/audit/export`, {
        headers: { authorization: `Bearer ${auditor}` },
      });
      const file = join(dir, `${tenant}.jsonl`);
      writeFileSync(file, Buffer.from(await exported.arrayBuffer()));
      const keyFile = join(dir, 'key.pem');
      writeFileSync(keyFile, gateway.app.get(ExportSigner).publicKey().pem);
      const archived = join(
        dir,
        'archive',
        (checkpoint?.archive_key as string).replace(/\.jsonl$/, '.checkpoint.json'),
      );
      const offline = (extra: string[]) =>
        spawnSync('node', ['scripts/audit-verify.mjs', file, '--public-key', keyFile, ...extra], {
          encoding: 'utf8',
        });
      expect(offline([]).status).toBe(0); // control: without the checkpoint the export holds
      const anchored = offline(['--checkpoint', archived]);
      expect(anchored.status).toBe(1);
      expect(anchored.stdout).toMatch(/first bad seq: 5/);
      // The database alone no longer tells: its head and its checkpoints were rewritten.
      expect(await verify(tenant)).toMatchObject({ valid: true });
    });
  });
});
