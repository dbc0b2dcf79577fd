import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { FalkorDB } from 'falkordb';
import { QdrantTokens, TenantContext, tenantNames } from '@isogate/isolation';
import { requireTestEnv } from './support/env.js';
import { freshId } from './support/db.js';
import { storeKit, type StoreKit } from './support/stores.js';

const as = <T>(tenantId: string, fn: () => Promise<T>): Promise<T> =>
  TenantContext.run(
    {
      kind: 'tenant',
      tenantId,
      subject: 'engine-test',
      roles: ['admin'],
      requestId: 'engine',
    },
    fn,
  );

describe('engine-level isolation, with the gateway bypassed', () => {
  let kit: StoreKit;
  const a = freshId('eng-a');
  const b = freshId('eng-b');
  const qdrantUrl = requireTestEnv('QDRANT_URL');

  beforeAll(async () => {
    kit = storeKit();
    await kit.provision(a);
    await kit.provision(b);
  });
  afterAll(async () => {
    await kit.provisioner.purge(a);
    await kit.provisioner.purge(b);
    await kit.close();
  });

  describe('Qdrant', () => {
    it("accepts A's JWT on t_A and refuses it on t_B; lists only t_A", async () => {
      const token = await new QdrantTokens({ apiKey: requireTestEnv('QDRANT_API_KEY') }).forTenant(
        a,
      );
      const count = (collection: string) =>
        fetch(`${qdrantUrl}/collections/${collection}/points/count`, {
          method: 'POST',
          headers: { 'api-key': token, 'content-type': 'application/json' },
          body: '{}',
        });
      expect((await count(tenantNames(a).collection)).status).toBe(200);
      expect((await count(tenantNames(b).collection)).status).toBe(403);
      const listed = (await (
        await fetch(`${qdrantUrl}/collections`, { headers: { 'api-key': token } })
      ).json()) as {
        result: { collections: { name: string }[] };
      };
      expect(listed.result.collections.map((c) => c.name)).toEqual([tenantNames(a).collection]);
    });

    it('keeps hostile filters inside the tenant; benign ones find its own points', async () => {
      const text = 'identical canary sentence about aortic stenosis';
      for (const tenant of [a, b]) {
        await as(tenant, () =>
          kit.vectors.upsert([
            {
              id: randomUUID(),
              text,
              payload: { document_id: `${tenant}-doc`, chunk_index: 0, tenant_id: 'forged' },
            },
          ]),
        );
      }
      const search = (tenant: string, filter?: Record<string, unknown>) =>
        as(tenant, () =>
          kit.vectors.query({ text: 'aortic stenosis', limit: 10, ...(filter ? { filter } : {}) }),
        );
      const own = await search(a);
      expect(own.map((h) => h.payload.document_id)).toEqual([`${a}-doc`]);
      expect(own[0]?.payload.tenant_id).toBe(a);
      const hostile = [
        { should: [{ key: 'tenant_id', match: { value: b } }] },
        { must_not: [{ key: 'tenant_id', match: { value: a } }] },
        { must: [{ key: 'document_id', match: { any: [`${b}-doc`] } }] },
        {
          should: [
            { is_empty: { key: 'tenant_id' } },
            { key: 'tenant_id', match: { except: [a] } },
          ],
        },
      ];
      for (const filter of hostile) expect(await search(a, filter)).toEqual([]);
      expect((await search(b)).map((h) => h.payload.document_id)).toEqual([`${b}-doc`]);
    });
  });

  describe('Redis (cache)', () => {
    const connectAs = (tenantId: string) =>
      new Redis(requireTestEnv('REDIS_URL'), {
        username: tenantNames(tenantId).aclUser,
        password: kit.masterKey.storeSecret('redis', tenantId),
        enableReadyCheck: false,
        maxRetriesPerRequest: 0,
      });

    it("lets A's user use t:A: keys and refuses t:B: keys and keyspace-wide commands", async () => {
      const redis = connectAs(a);
      try {
        await redis.set(`t:${a}:x`, '1');
        expect(await redis.get(`t:${a}:x`)).toBe('1');
        await expect(redis.get(`t:${b}:x`)).rejects.toThrow(/NOPERM/);
        await expect(redis.set(`t:${b}:x`, '1')).rejects.toThrow(/NOPERM/);
        await expect(
          redis.eval(`return redis.call('GET', KEYS[1])`, 1, `t:${b}:x`),
        ).rejects.toThrow(/NOPERM|No permissions/);
        for (const command of [
          ['SCAN', '0'],
          ['KEYS', '*'],
          ['FLUSHDB'],
          ['CONFIG', 'GET', 'maxmemory'],
          ['ACL', 'LIST'],
          ['INFO'],
        ]) {
          await expect(redis.call(command[0] as string, ...command.slice(1))).rejects.toThrow(
            /NOPERM/,
          );
        }
      } finally {
        redis.disconnect();
      }
    });

    it('prefixes keys itself and refuses suffixes that could confuse a key pattern', async () => {
      await as(a, () => kit.cache.set('answer:1', 'A', 60));
      expect(await as(a, () => kit.cache.get('answer:1'))).toBe('A');
      expect(await as(b, () => kit.cache.get('answer:1'))).toBeNull();
      expect(await kit.redis.client.get(`t:${a}:answer:1`)).toBe('A');
      for (const bad of ['*', 'a b', '', '{x}', 'x\n', `../t:${b}:x`]) {
        await expect(as(a, () => kit.cache.get(bad))).rejects.toMatchObject({
          code: 'invalid_request',
        });
      }
    });
  });

  describe('FalkorDB (graph)', () => {
    it("lets A's user query t:A:graph and refuses t:B:graph and GRAPH.LIST", async () => {
      await as(b, () => kit.graph.query('CREATE (:Doc {name: $name})', { name: 'b-secret' }));
      const db = await FalkorDB.connect({
        socket: { host: '127.0.0.1', port: Number(new URL(requireTestEnv('FALKORDB_URL')).port) },
        username: tenantNames(a).aclUser,
        password: kit.masterKey.storeSecret('falkordb', a),
      });
      try {
        await db
          .selectGraph(tenantNames(a).graphKey)
          .query('CREATE (:Doc {name: $n})', { params: { n: 'a-own' } });
        const own = await db
          .selectGraph(tenantNames(a).graphKey)
          .roQuery('MATCH (d:Doc) RETURN d.name AS name');
        expect(own.data).toEqual([{ name: 'a-own' }]);
        await expect(
          db.selectGraph(tenantNames(b).graphKey).roQuery('MATCH (d) RETURN d'),
        ).rejects.toThrow(/NOPERM|No permissions/);
        await expect(db.list()).rejects.toThrow(/NOPERM|No permissions/);
      } finally {
        await db.close();
      }
    });

    it('takes values as parameters only, and each call goes to the graph of its own context', async () => {
      const hostile = "x'}) MATCH (n) DETACH DELETE n //";
      await as(a, () => kit.graph.query('CREATE (:Doc {name: $name})', { name: hostile }));
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => {
          const tenant = i % 2 === 0 ? a : b;
          return as(tenant, async () => ({
            tenant,
            names: (
              await kit.graph.roQuery('MATCH (d:Doc) RETURN d.name AS name ORDER BY name')
            ).map((r) => r.name),
          }));
        }),
      );
      for (const { tenant, names } of results) {
        if (tenant === a) expect(names).toEqual(expect.arrayContaining(['a-own', hostile]));
        else expect(names).toEqual(['b-secret']);
      }
    });
  });

  it('re-creates an ACL user the store lost, and the call succeeds as that user', async () => {
    await as(a, () => kit.cache.set('survivor', '1', 60));
    await as(a, () => kit.graph.roQuery('RETURN 1'));
    await kit.redis.client.call('ACL', 'DELUSER', tenantNames(a).aclUser);
    const graphAdmin = new Redis(requireTestEnv('FALKORDB_URL'));
    await graphAdmin.call('ACL', 'DELUSER', tenantNames(a).aclUser);
    try {
      expect(await as(a, () => kit.cache.get('survivor'))).toBe('1');
      expect(await as(a, () => kit.graph.roQuery('RETURN 1 AS one'))).toEqual([{ one: 1 }]);
      const users = (await kit.redis.client.call('ACL', 'USERS')) as string[];
      expect(users).toContain(tenantNames(a).aclUser);
    } finally {
      graphAdmin.disconnect();
    }
  });

  it('refuses every data-plane call outside a tenant context', async () => {
    await expect(kit.vectors.query({ text: 'x', limit: 1 })).rejects.toMatchObject({
      code: 'tenant_context_missing',
    });
    await expect(kit.graph.roQuery('RETURN 1')).rejects.toMatchObject({
      code: 'tenant_context_missing',
    });
    await expect(kit.cache.get('x')).rejects.toMatchObject({ code: 'tenant_context_missing' });
    await expect(as(a, () => kit.vectors.count())).resolves.toBeGreaterThanOrEqual(1);
  });
});
