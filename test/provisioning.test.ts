import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { Redis } from 'ioredis';
import {
  PROVISIONING_STEPS,
  TenantContext,
  TenantLifecycle,
  tenantNames,
  type AfterStep,
  type CallerContext,
  type PostgresPools,
} from '@isogate/isolation';
import { requireTestEnv } from './support/env.js';
import { freshId, testPool, testPools } from './support/db.js';
import { storeKit, type StoreKit } from './support/stores.js';

const operator = (mspId: string): CallerContext => ({
  kind: 'operator',
  mspId,
  subject: 'op',
  roles: ['operator'],
  requestId: 'prov',
});
const asTenant = <T>(tenantId: string, fn: () => Promise<T>) =>
  TenantContext.run(
    { kind: 'tenant', tenantId, subject: 's', roles: ['admin'], requestId: 'prov' },
    fn,
  );

describe('tenant provisioning and deletion across the four stores', () => {
  let kit: StoreKit;
  let gateway: pg.Pool;
  let gatewayPools: PostgresPools;
  let superuser: pg.Pool;
  let graphAdmin: Redis;
  const msp = freshId('msp');

  const lifecycle = (afterStep?: AfterStep) =>
    new TenantLifecycle(gatewayPools, kit.masterKey, kit.provisioner, afterStep);
  const asOperator = <T>(fn: () => Promise<T>) => TenantContext.run(operator(msp), fn);

  /** Everything of the tenant that each store still holds, read with admin credentials. */
  async function traces(tenantId: string) {
    const names = tenantNames(tenantId);
    const rows = await superuser.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM tenants WHERE id = $1) + (SELECT count(*) FROM tenant_keys WHERE tenant_id = $1)
            + (SELECT count(*) FROM documents WHERE tenant_id = $1) + (SELECT count(*) FROM corpus_versions WHERE tenant_id = $1)
            + (SELECT count(*) FROM interactions WHERE tenant_id = $1) + (SELECT count(*) FROM usage_daily WHERE tenant_id = $1) AS n`,
      [tenantId],
    );
    const aclUsers = async (redis: Redis) =>
      ((await redis.call('ACL', 'USERS')) as string[]).filter((u) => u === names.aclUser);
    return {
      postgres: Number(rows.rows[0]?.n),
      qdrant: (await kit.qdrant.client.collectionExists(names.collection)).exists,
      falkordbKeys: await graphAdmin.keys(`${names.keyPrefix}*`),
      falkordbUsers: await aclUsers(graphAdmin),
      redisKeys: await kit.redis.client.keys(`${names.keyPrefix}*`),
      redisUsers: await aclUsers(kit.redis.client),
    };
  }
  const nothing = {
    postgres: 0,
    qdrant: false,
    falkordbKeys: [],
    falkordbUsers: [],
    redisKeys: [],
    redisUsers: [],
  };

  beforeAll(async () => {
    kit = storeKit();
    gateway = testPool('gateway');
    gatewayPools = testPools('gateway');
    superuser = testPool('superuser');
    graphAdmin = new Redis(requireTestEnv('FALKORDB_URL'));
  });
  afterAll(async () => {
    await kit.close();
    await gateway.end();
    await gatewayPools.close();
    await superuser.end();
    graphAdmin.disconnect();
  });

  it.each(PROVISIONING_STEPS)(
    'completes a tenant whose creation failed after step %s, when the request is sent again',
    async (failing) => {
      const id = freshId('fault');
      const broken = lifecycle((step) => {
        if (step === failing) throw new Error(`injected failure after ${step}`);
      });
      await expect(asOperator(() => broken.create({ id, name: 'Faulty' }))).rejects.toThrow(
        /injected/,
      );
      const status = await superuser.query<{ status: string }>(
        'SELECT status FROM tenants WHERE id = $1',
        [id],
      );
      expect(status.rows[0]?.status).toBe(failing === 'activate' ? 'active' : 'provisioning');

      if (failing !== 'activate') {
        const done = await asOperator(() => lifecycle().create({ id, name: 'Faulty' }));
        expect(done).toMatchObject({ id, status: 'active', msp_id: msp });
      }
      const keys = await superuser.query('SELECT 1 FROM tenant_keys WHERE tenant_id = $1', [id]);
      expect(keys.rowCount).toBe(1);
      await asTenant(id, () => kit.cache.set('probe', '1', 10));
      await asTenant(id, () => kit.graph.query('CREATE (:Probe)'));
      expect(await asTenant(id, () => kit.vectors.count())).toBe(0);
      await asOperator(() => lifecycle().delete(id));
    },
  );

  it('gives one tenant, one success and one conflict, for two concurrent creations of one id', async () => {
    const id = freshId('race');
    const results = await Promise.allSettled([
      asOperator(() => lifecycle().create({ id, name: 'One' })),
      asOperator(() => lifecycle().create({ id, name: 'Two' })),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refusals = results.filter((r) => r.status === 'rejected').map((r): unknown => r.reason);
    expect(refusals).toEqual([expect.objectContaining({ code: 'tenant_exists' })]);
    expect((await superuser.query('SELECT 1 FROM tenants WHERE id = $1', [id])).rowCount).toBe(1);
    await asOperator(() => lifecycle().delete(id));
  });

  it('answers at once, without waiting, to requests on an id another request is creating', async () => {
    const id = freshId('busy');
    let resume: () => void = () => undefined;
    const paused = new Promise<void>((resolve) => (resume = resolve));
    let reached: () => void = () => undefined;
    const atQdrant = new Promise<void>((resolve) => (reached = resolve));
    const creating = asOperator(() =>
      lifecycle(async (step) => {
        if (step !== 'qdrant') return;
        reached();
        await paused;
      }).create({ id, name: 'Busy' }),
    );
    await atQdrant;
    // Had any of these waited for the lock, it would never answer: the creation resumes after.
    const other = (fn: () => Promise<unknown>) => TenantContext.run(operator(freshId('msp')), fn);
    await expect(asOperator(() => lifecycle().create({ id, name: 'Again' }))).rejects.toMatchObject(
      { code: 'tenant_exists' },
    );
    await expect(asOperator(() => lifecycle().delete(id))).rejects.toMatchObject({
      code: 'conflict',
    });
    // The lock is per id across MSPs; another MSP still learns nothing beyond "not found".
    await expect(other(() => lifecycle().delete(id))).rejects.toMatchObject({ code: 'not_found' });
    resume();
    await expect(creating).resolves.toMatchObject({ id, status: 'active', name: 'Busy' });
    // Control: once the creation is done, its owner deletes it.
    await expect(asOperator(() => lifecycle().delete(id))).resolves.toMatchObject({
      tenant_id: id,
    });
    expect(await traces(id)).toEqual(nothing);
  });

  it('leaves nothing of a deleted tenant in any store, and a re-created one starts empty', async () => {
    const id = freshId('gone');
    await asOperator(() => lifecycle().create({ id, name: 'Gone' }));
    await asTenant(id, async () => {
      await kit.vectors.upsert([
        { id: randomUUID(), text: 'canary gone-away text', payload: { document_id: 'd1' } },
      ]);
      await kit.graph.query('CREATE (:Doc {id: $id})', { id: 'd1' });
      await kit.cache.set('answer', 'cached', 60);
    });
    expect(await traces(id)).toMatchObject({ qdrant: true, redisKeys: [`t:${id}:answer`] });

    const receipt = await asOperator(() => lifecycle().delete(id));
    expect(receipt).toMatchObject({
      tenant_id: id,
      stores: {
        postgres: { keys: 1 },
        qdrant: { points: 1 },
        falkordb: { nodes: 1 },
        redis: { keys: 1 },
      },
    });
    expect(await traces(id)).toEqual(nothing);

    await asOperator(() => lifecycle().create({ id, name: 'Again' }));
    expect(await asTenant(id, () => kit.vectors.count())).toBe(0);
    expect(await asTenant(id, () => kit.graph.roQuery('MATCH (n) RETURN n'))).toEqual([]);
    expect(await asTenant(id, () => kit.cache.get('answer'))).toBeNull();
    await asOperator(() => lifecycle().delete(id));
    expect(await traces(id)).toEqual(nothing);
  });

  it('runs each store step idempotently', async () => {
    const id = freshId('idem');
    await kit.provision(id);
    await kit.provision(id);
    await asTenant(id, () => kit.cache.set('k', 'v', 10));
    expect(await asTenant(id, () => kit.cache.get('k'))).toBe('v');
    await kit.provisioner.purge(id);
    await kit.provisioner.purge(id);
    expect(await traces(id)).toEqual(nothing);
  });

  it("refuses to delete or complete another MSP's tenant", async () => {
    const id = freshId('mine');
    await asOperator(() => lifecycle().create({ id, name: 'Mine' }));
    const other = (fn: () => Promise<unknown>) => TenantContext.run(operator(freshId('msp')), fn);
    await expect(other(() => lifecycle().delete(id))).rejects.toMatchObject({ code: 'not_found' });
    await expect(other(() => lifecycle().create({ id, name: 'Theirs' }))).rejects.toMatchObject({
      code: 'tenant_exists',
    });
    expect((await traces(id)).qdrant).toBe(true);
    await asOperator(() => lifecycle().delete(id));
  });
});
