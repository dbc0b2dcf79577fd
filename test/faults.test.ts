import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { tenantNames } from '@isogate/isolation';
import { freshId, testPool } from './support/db.js';
import { requireTestEnv, testConfig } from './support/env.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';
import { PrivateRedis } from './support/private-store.js';
import { storeKit, type StoreKit } from './support/stores.js';
import { TcpProxy } from './support/tcp-proxy.js';
import {
  createTenantFixture,
  GatewayClient,
  sendKind,
  type Outcome,
  type TenantFixture,
  type TrafficKind,
} from './support/traffic.js';
import { SteadyLoad, auditProblems, tally } from './support/traffic-run.js';

const STORES = {
  postgres: { variable: 'DATABASE_URL', url: () => requireTestEnv('TEST_DATABASE_URL') },
  redis: { variable: 'REDIS_URL', url: () => requireTestEnv('REDIS_URL') },
  falkordb: { variable: 'FALKORDB_URL', url: () => requireTestEnv('FALKORDB_URL') },
  qdrant: { variable: 'QDRANT_URL', url: () => requireTestEnv('QDRANT_URL') },
} as const;
type Store = keyof typeof STORES;

/**
 * The chosen behaviour while a store is away (README, "Failure behaviour"): the kinds of
 * request that need it answer 503, the others answer as usual. Retrieval expands through the
 * graph by default, so it needs FalkorDB; `expand_graph: false` does not. Chat needs what
 * retrieval needs, except that an answer already in the tenant's cache is served without it:
 * with FalkorDB or Qdrant away it answers either way.
 */
const WHILE_DOWN: Record<Store, { down: TrafficKind[]; up: TrafficKind[] }> = {
  postgres: { down: ['retrieve', 'list', 'get', 'ingest', 'chat'], up: [] },
  redis: { down: [], up: ['retrieve', 'list', 'get', 'ingest', 'chat'] },
  falkordb: { down: ['retrieve', 'ingest'], up: ['list', 'get'] },
  qdrant: { down: ['retrieve', 'ingest'], up: ['list', 'get'] },
};
/** The traffic; chat joins it when the gateway serves it (extractive: no LLM configured). */
const KINDS: TrafficKind[] = ['retrieve', 'list', 'get', 'ingest', 'chat'];
/** Every gateway here answers chat extractively, under the model name the traffic asks for. */
const CHAT_MODEL = { LLM_MODEL: 'test-chat' };
/** Requests in flight when the fault began may end either way. */
const SETTLE_MS = 300;
/**
 * How long a stalled store hangs; the requests that need it must be answered before it ends.
 * Generous: a stalled Qdrant took about 10 s to be given up (two 5 s header timeouts).
 */
const STALL_MS = 12_000;
/** Liveness bound (not a timing claim): the gateway must answer again within this. */
const RECOVERY_CAP_MS = 30_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const is2xx = (o: Outcome) => o.status >= 200 && o.status < 300;
const recoveries: string[] = [];

/** Time from `since` to the end of the first 2xx of `kind` sent after it, recorded for the report. */
async function recovery(load: SteadyLoad, kind: TrafficKind, since: number, label: string) {
  const first = await load.firstSuccess(kind, since, RECOVERY_CAP_MS);
  expect([label, first !== undefined]).toEqual([label, true]);
  const ms = (first as Outcome).startedAt + (first as Outcome).ms - since;
  recoveries.push(`${label}: first ${kind} 2xx ${ms.toFixed(0)} ms after the store returned`);
}

/**
 * The properties of a run with a fault: nothing leaks, every non-2xx is a clean 503, what
 * needs the store answered 503 while it was away and the rest answered as usual.
 */
function expectFailClosed(store: Store, outcomes: Outcome[], faultAt: number, backAt: number) {
  const { down, up } = WHILE_DOWN[store];
  const during = outcomes.filter(
    (o) => o.startedAt > faultAt + SETTLE_MS && o.startedAt + o.ms < backAt,
  );
  const summary = `${store} ${JSON.stringify(tally(during))}`;
  expect([summary, outcomes.filter((o) => o.leak || (is2xx(o) && !o.own))]).toEqual([summary, []]);
  const unclean = outcomes.filter(
    (o) => !is2xx(o) && !(o.status === 503 && o.code === 'store_unavailable' && !o.internals),
  );
  expect([summary, unclean]).toEqual([summary, []]);
  for (const [kinds, expected] of [
    [down, 503],
    [up, 200],
  ] as const) {
    for (const kind of kinds.filter((k) => KINDS.includes(k))) {
      const statuses = new Set(
        during.filter((o) => o.kind === kind).map((o) => (is2xx(o) ? 200 : o.status)),
      );
      expect([summary, kind, [...statuses]]).toEqual([summary, kind, [expected]]);
    }
  }
}

describe('store faults under steady load', () => {
  let idp: TestIdentityProvider;
  let setup: RunningGateway;
  let client: GatewayClient;
  let kit: StoreKit;
  let operator: string;
  let tenants: TenantFixture[];
  const superuser = testPool('superuser');
  let probeNumber = 1_000_000;

  /** A gateway that reaches the given stores through proxies the test controls. */
  const behindProxies = async (...stores: Store[]) => {
    const proxies = await Promise.all(stores.map((s) => TcpProxy.before(STORES[s].url())));
    const env = Object.fromEntries(
      stores.map((s, i) => [STORES[s].variable, proxies[i]?.rewrite(STORES[s].url())]),
    );
    const gateway = await startGateway(testConfig({ ...idp.env, ...CHAT_MODEL, ...env }));
    const http = new GatewayClient(gateway.url, 16);
    const close = async () => {
      await http.close();
      await gateway.close();
      for (const proxy of proxies) await proxy.close();
    };
    return { proxies: proxies as [TcpProxy, ...TcpProxy[]], http, close };
  };
  /** Points and chunk nodes the stores hold for a document, read with the admin connections. */
  const indexed = async (tenant: TenantFixture, documentId: string) => {
    const { collection, graphKey } = tenantNames(tenant.id);
    const filter = { must: [{ key: 'document_id', match: { value: documentId } }] };
    const points = await kit.qdrant.client.count(collection, { filter, exact: true });
    const reply = await (
      await kit.falkor.client()
    )
      .selectGraph(graphKey)
      .roQuery('MATCH (c:Chunk {document_id: $id}) RETURN count(c) AS n', {
        params: { id: documentId },
      });
    return { points: points.count, chunks: Number((reply.data?.[0] as { n: number }).n) };
  };
  const expectChainsValid = async () => {
    for (const t of tenants) {
      const verify = await client.send(t.tokens.auditor, 'GET', '/v1/audit/verify');
      expect(JSON.parse(verify.text)).toMatchObject({ valid: true });
    }
  };

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    setup = await startGateway(testConfig({ ...idp.env, ...CHAT_MODEL }));
    client = new GatewayClient(setup.url);
    kit = storeKit();
    operator = await idp.token({ msp_id: freshId('msp'), roles: ['operator'] });
    const sign = (claims: Record<string, unknown>) => idp.token(claims);
    tenants = [
      await createTenantFixture(client, operator, sign, { prefix: 'flt' }),
      await createTenantFixture(client, operator, sign, { prefix: 'flt' }),
    ];
  });
  afterAll(async () => {
    process.stdout.write(`recovery after store faults:\n  ${recoveries.join('\n  ')}\n`);
    for (const t of tenants ?? []) await client.send(operator, 'DELETE', `/v1/tenants/${t.id}`);
    await client.close();
    await kit.close();
    await setup.close();
    await idp.close();
    await superuser.end();
  });

  it.each(Object.keys(STORES) as Store[])(
    '%s cut: what needs it answers 503, nothing leaks, every 2xx is audited, it recovers',
    async (store) => {
      const { proxies, http, close } = await behindProxies(store);
      const load = new SteadyLoad(http, tenants, KINDS, 4);
      try {
        await sleep(800);
        proxies[0].cut();
        const faultAt = performance.now();
        await sleep(2_500);
        const [owner] = tenants as [TenantFixture];
        const probe = await sendKind(http, 'ingest', owner, tenants, probeNumber++);
        if (store === 'falkordb') {
          // Without the graph expansion, retrieval needs no graph.
          const body = { query: owner.canary, expand_graph: false };
          expect((await http.send(owner.tokens.user, 'POST', '/v1/retrieve', body)).status).toBe(
            200,
          );
        }
        const restoredAt = performance.now();
        proxies[0].restore();
        await recovery(load, WHILE_DOWN[store].down[0] ?? 'retrieve', restoredAt, `${store} cut`);
        const outcomes = [...(await load.stop()), probe];

        expectFailClosed(store, outcomes, faultAt, restoredAt);
        expect(await auditProblems(superuser, outcomes)).toEqual([]);
        // A write refused while the store was away changed nothing anywhere.
        expect(probe.status).toBe(WHILE_DOWN[store].down.includes('ingest') ? 503 : 201);
        if (probe.status === 503) {
          const probeId = `w-${probeNumber - 1}`;
          const read = await client.send(owner.tokens.user, 'GET', `/v1/documents/${probeId}`);
          expect(read.status).toBe(404);
          expect(await indexed(owner, probeId)).toEqual({ points: 0, chunks: 0 });
        }
        await expectChainsValid();
      } finally {
        await load.stop();
        await close();
      }
    },
  );

  it.each([
    ['postgres', 'list'],
    ['falkordb', 'retrieve'],
    ['qdrant', 'retrieve'],
  ] as [Store, TrafficKind][])(
    '%s stalled (connections open, no byte through): %s answers 503 before the store returns',
    async (store, kind) => {
      const { proxies, http, close } = await behindProxies(store);
      const [owner] = tenants as [TenantFixture];
      try {
        // Warm connections, as when a partition strikes a running gateway.
        expect((await sendKind(http, kind, owner, tenants, 0)).status).toBe(200);
        proxies[0].stall();
        const pending = sendKind(http, kind, owner, tenants, 1);
        const answered = await Promise.race([pending, sleep(STALL_MS).then(() => undefined)]);
        const restoredAt = performance.now();
        proxies[0].restore();
        await pending;
        let back: Outcome | undefined;
        while (performance.now() - restoredAt < RECOVERY_CAP_MS && !(back && is2xx(back))) {
          back = await sendKind(http, kind, owner, tenants, 2);
        }
        recoveries.push(
          `${store} stall: ${kind} 2xx again ${(performance.now() - restoredAt).toFixed(0)} ms after the stall ended`,
        );
        expect([store, answered?.status, answered?.code]).toEqual([
          store,
          503,
          'store_unavailable',
        ]);
        expect(back?.status).toBe(200);
      } finally {
        await close();
      }
    },
  );

  it('postgres lost while a write holds its transaction open: 503, and the gateway lives on', async () => {
    // Qdrant slowed down keeps the document write inside its PostgreSQL transaction for a while.
    const { proxies, http, close } = await behindProxies('postgres', 'qdrant');
    const [pgProxy, qdrantProxy] = proxies as [TcpProxy, TcpProxy];
    const [owner] = tenants as [TenantFixture];
    try {
      qdrantProxy.slow(1_000);
      const write = sendKind(http, 'ingest', owner, tenants, probeNumber++);
      await sleep(600);
      pgProxy.cut();
      const outcome = await write;
      pgProxy.restore();
      qdrantProxy.restore();
      expect([outcome.status, outcome.code]).toEqual([503, 'store_unavailable']);
      // Control: once PostgreSQL is back, the same tenant's reads work again.
      let back: Outcome | undefined;
      const restoredAt = performance.now();
      while (performance.now() - restoredAt < RECOVERY_CAP_MS && !(back && is2xx(back))) {
        back = await sendKind(http, 'list', owner, tenants, 0);
      }
      expect(back?.status).toBe(200);
    } finally {
      await close();
    }
  });

  it('every store 20 ms slower each way: every request is still answered, in full and audited', async () => {
    const { proxies, http, close } = await behindProxies('postgres', 'redis', 'falkordb', 'qdrant');
    const load = new SteadyLoad(http, tenants, KINDS, 4);
    try {
      await sleep(1_000);
      const warmAt = performance.now();
      await sleep(2_000);
      const slowAt = performance.now();
      for (const proxy of proxies) proxy.slow(20);
      await sleep(2_500);
      for (const proxy of proxies) proxy.restore();
      const outcomes = await load.stop();
      const slowed = outcomes.filter((o) => o.startedAt > slowAt);
      expect(slowed.length).toBeGreaterThan(0);
      expect(tally(outcomes.filter((o) => !is2xx(o) || !o.own || o.leak))).toEqual({});
      expect(await auditProblems(superuser, outcomes)).toEqual([]);
      const p50 = (list: Outcome[]) =>
        list.map((o) => o.ms).sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? 0;
      const normal = outcomes.filter((o) => o.startedAt > warmAt && o.startedAt <= slowAt);
      recoveries.push(
        `all stores +20 ms: p50 ${p50(normal).toFixed(0)} ms -> ${p50(slowed).toFixed(0)} ms`,
      );
    } finally {
      await load.stop();
      await close();
    }
  });

  describe.each(['redis', 'falkordb'] as const)('a private %s killed and started again', (kind) => {
    const available = PrivateRedis.available(kind);
    (available ? it : it.skip)('fails closed while it is dead and recovers by itself', async () => {
      const store = await PrivateRedis.start(kind);
      const gateway = await startGateway(
        testConfig({ ...idp.env, ...CHAT_MODEL, [STORES[kind].variable]: store.url }),
      );
      const http = new GatewayClient(gateway.url, 16);
      const sign = (claims: Record<string, unknown>) => idp.token(claims);
      const own = [
        await createTenantFixture(http, operator, sign, { prefix: 'kil', docs: 2 }),
        await createTenantFixture(http, operator, sign, { prefix: 'kil', docs: 2 }),
      ];
      const load = new SteadyLoad(http, own, KINDS, 4);
      try {
        await sleep(800);
        await store.kill();
        const killedAt = performance.now();
        await sleep(2_000);
        const ready = await http.send(undefined, 'GET', '/readyz');
        expect([ready.status, (JSON.parse(ready.text) as { down: unknown }).down]).toEqual([
          503,
          [kind],
        ]);
        // Provisioning needs every store: a tenant cannot be created, and the retry completes it.
        const newcomer = { id: freshId('kil'), name: 'newcomer' };
        const refused = await http.send(operator, 'POST', '/v1/tenants', newcomer);
        expect([refused.status, refused.text]).toEqual([
          503,
          expect.stringContaining('store_unavailable'),
        ]);
        // A fresh server without persistence: the tenants' ACL users must be made again.
        await store.restart();
        const backAt = performance.now();
        await recovery(load, WHILE_DOWN[kind].down[0] ?? 'retrieve', backAt, `${kind} killed`);
        expect((await http.send(operator, 'POST', '/v1/tenants', newcomer)).status).toBe(201);
        await http.send(operator, 'DELETE', `/v1/tenants/${newcomer.id}`);
        const outcomes = await load.stop();
        expectFailClosed(kind, outcomes, killedAt, backAt);
        expect(await auditProblems(superuser, outcomes)).toEqual([]);
        expect((await http.send(undefined, 'GET', '/readyz')).status).toBe(200);
      } finally {
        await load.stop();
        for (const t of own) await http.send(operator, 'DELETE', `/v1/tenants/${t.id}`);
        await http.close();
        await gateway.close();
        await store.kill();
      }
    });
  });
});
