import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TenantContext, UsageLedger, utcDay } from '@isogate/isolation';
import { statusOf } from '../apps/gateway/src/errors/error-response.js';
import { QuotaService } from '../apps/gateway/src/quota/quota.service.js';
import { api, type ApiResponse } from './support/api.js';
import { chainEvents } from './support/audit.js';
import { freshId, testPool } from './support/db.js';
import { testConfig, testEnv } from './support/env.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';
import { freePort } from './support/private-store.js';
import { storeKit, type StoreKit } from './support/stores.js';
import { TcpProxy } from './support/tcp-proxy.js';

// Quota calls may wait long on a busy machine: a timeout would switch a gateway to
// its per-process buckets and make the shared-bucket test meaningless.
const PATIENT = { QUOTA_REDIS_TIMEOUT_MS: '3000' };

/**
 * Runs the gateway's own `main.ts` in a second OS process, compiled on load by the TypeScript
 * compiler through a module loader (no build step, nothing written to the repository).
 */
async function spawnGateway(env: Record<string, string | undefined>) {
  const root = pathToFileURL(`${process.cwd()}/`).href;
  const typescript = pathToFileURL(resolve('node_modules/typescript/lib/typescript.js')).href;
  const loader = `
    import { readFile } from 'node:fs/promises';
    import { existsSync } from 'node:fs';
    import { fileURLToPath } from 'node:url';
    import ts from '${typescript}';
    export async function resolve(specifier, context, next) {
      // Every workspace library is @isogate/<name> at libs/<name>/src/index.ts, as in tsconfig.
      if (specifier.startsWith('@isogate/')) {
        return { url: '${root}libs/' + specifier.slice(9) + '/src/index.ts', shortCircuit: true };
      }
      if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
        const url = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
        if (existsSync(fileURLToPath(url))) return { url: url.href, shortCircuit: true };
      }
      return next(specifier, context);
    }
    export async function load(url, context, next) {
      if (!url.endsWith('.ts')) return next(url, context);
      const fileName = fileURLToPath(url);
      const { outputText } = ts.transpileModule(await readFile(fileName, 'utf8'), { fileName,
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022,
          experimentalDecorators: true, emitDecoratorMetadata: true } });
      return { format: 'module', source: outputText, shortCircuit: true };
    }`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(
    `data:text/javascript,${encodeURIComponent(loader)}`,
  )});`;
  const port = await freePort();
  const variables = Object.fromEntries(
    Object.entries({ ...env, PATH: process.env.PATH, PORT: String(port), NODE_OPTIONS: '' }).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    ),
  );
  const child = spawn(
    process.execPath,
    [
      '--import',
      `data:text/javascript,${encodeURIComponent(register)}`,
      'apps/gateway/src/main.ts',
    ],
    { env: variables, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`second gateway did not start: ${output}`)),
      45_000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('isogate listening')) {
        clearTimeout(timer);
        ready();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => fail(new Error(`second gateway exited: ${output}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      const stuck = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(stuck);
    },
  };
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const statuses = (responses: ApiResponse[]) => responses.map((r) => r.status);

describe('quotas and usage', () => {
  let idp: TestIdentityProvider;
  let gateway: RunningGateway;
  let kit: StoreKit;
  let operator: string;
  const msp = freshId('msp');
  const owner = testPool('owner');
  const created: string[] = [];

  const call = (token: string, path = '/v1/models', base = gateway.url, requestId?: string) =>
    api(base, token, 'GET', path, undefined, requestId ? { 'x-request-id': requestId } : {});
  const newTenant = async (quotas: Record<string, number>, base = gateway.url) => {
    const id = freshId('quota');
    const response = await api(base, operator, 'POST', '/v1/tenants', { id, name: id, quotas });
    expect(response.status).toBe(201);
    created.push(id);
    return { id, user: await idp.token({ tenant_id: id, roles: ['user'] }) };
  };
  const usageOf = async (tenantId: string, token = operator) => {
    await gateway.app.get(UsageLedger).flush();
    return api(gateway.url, token, 'GET', `/v1/tenants/${tenantId}/usage`);
  };
  const inTenant = <T>(tenantId: string, work: () => Promise<T>) =>
    TenantContext.run(
      { kind: 'tenant', tenantId, subject: 'chat', roles: ['user'], requestId: randomUUID() },
      work,
    );

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    gateway = await startGateway(testConfig({ ...idp.env, ...PATIENT }));
    kit = storeKit();
    operator = await idp.token({ msp_id: msp, roles: ['operator'] });
  });
  afterAll(async () => {
    for (const id of created) await api(gateway.url, operator, 'DELETE', `/v1/tenants/${id}`);
    await gateway.close();
    await kit.close();
    await idp.close();
    await owner.end();
  });

  it("limits a tenant's requests per minute without touching another tenant, and audits the 429", async () => {
    const a = await newTenant({ requests_per_minute: 3 });
    const b = await newTenant({ requests_per_minute: 3 });
    const burst = [await call(a.user), await call(b.user), await call(a.user), await call(a.user)];
    expect(statuses(burst)).toEqual([200, 200, 200, 200]);
    const requestId = `req-${randomUUID()}`;
    const refused = await call(a.user, '/v1/models', gateway.url, requestId);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({
      error: { type: 'rate_limit_error', code: 'rate_limited', message: expect.any(String) },
    });
    const retryAfter = refused.headers.get('retry-after') ?? '';
    expect(retryAfter).toMatch(/^[1-9][0-9]*$/);
    expect(Number(retryAfter)).toBeLessThanOrEqual(20);
    // Control: B, with the same small limit, still has the rest of its own burst.
    expect(statuses([await call(b.user), await call(b.user)])).toEqual([200, 200]);
    expect((await call(a.user)).status).toBe(429);

    const events = await chainEvents(owner, { tenantId: a.id }, requestId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status: 429, outcome: 'denied' });
    expect(events[0]?.details).toMatchObject({ error: 'rate_limited' });
    expect(await chainEvents(owner, { tenantId: b.id }, requestId)).toHaveLength(0);
    // Refused requests are not usage: A made 5 calls, 3 were answered.
    const usage = await usageOf(a.id);
    expect(usage.body).toMatchObject({ data: [{ day: utcDay(Date.now()), requests: 3 }] });
  });

  it('shares one bucket between two gateway processes', async () => {
    const second = await spawnGateway(testEnv({ ...idp.env, ...PATIENT, LOG_LEVEL: 'silent' }));
    try {
      const limit = 6;
      const c = await newTenant({ requests_per_minute: limit });
      const started = Date.now();
      const [first, other] = await Promise.all(
        [gateway.url, second.url].map((base) =>
          Promise.all(Array.from({ length: 12 }, () => call(c.user, '/v1/models', base))),
        ),
      );
      const elapsed = Date.now() - started;
      const all = [...(first ?? []), ...(other ?? [])];
      expect(new Set(statuses(all))).toEqual(new Set([200, 429]));
      const admitted = all.filter((r) => r.status === 200).length;
      // The bucket refills at limit/minute while the burst runs: that much more may pass.
      expect(admitted).toBeGreaterThanOrEqual(limit);
      expect(admitted).toBeLessThanOrEqual(limit + Math.floor((elapsed * limit) / 60_000));
      for (const half of [first, other]) expect(statuses(half ?? [])).toContain(429);
    } finally {
      await second.stop();
    }
  });

  it('enforces tokens per day through QuotaService, per tenant, and records them as usage', async () => {
    const quota = gateway.app.get(QuotaService);
    const d = await newTenant({ tokens_per_day: 1_000 });
    const e = await newTenant({ tokens_per_day: 1_000 });
    await inTenant(d.id, () => quota.assertTokensAvailable());
    await inTenant(d.id, () => quota.chargeTokens(600));
    await inTenant(d.id, () => quota.assertTokensAvailable());
    await inTenant(d.id, () => quota.chargeTokens(500));
    const refused = inTenant(d.id, () => quota.assertTokensAvailable());
    await expect(refused).rejects.toMatchObject({ code: 'token_quota_exceeded' });
    const retryAfter = (
      (await refused.catch((error: unknown) => error)) as {
        details: { retryAfterSeconds: number };
      }
    ).details.retryAfterSeconds;
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect(statusOf('token_quota_exceeded').status).toBe(429);
    // Control: the other tenant, with the same quota, has all of its tokens.
    await expect(inTenant(e.id, () => quota.assertTokensAvailable())).resolves.toBeUndefined();
    // The count lives on the tenant's own Redis keys, shared by every process.
    const key = `t:${d.id}:quota:tokens:${utcDay(Date.now())}`;
    expect(await kit.redis.client.get(key)).toBe('1100');
    await expect(inTenant(d.id, () => quota.chargeTokens(-1))).rejects.toThrow();
    const usage = await usageOf(d.id);
    expect(usage.body).toMatchObject({ data: [{ requests: 0, tokens: 1_100 }] });
  });

  it('falls back to per-process limits while Redis is down, and goes back to Redis', async () => {
    const redisUrl = testConfig().cache.url;
    const { hostname, port } = new URL(redisUrl);
    const proxy = await TcpProxy.start(hostname, Number(port));
    const cut = await startGateway(
      testConfig({ ...idp.env, REDIS_URL: proxy.rewrite(redisUrl), QUOTA_REDIS_RETRY_MS: '300' }),
    );
    try {
      const f = await newTenant({ requests_per_minute: 3 }, cut.url);
      const free = await newTenant({}, cut.url);
      expect((await call(f.user, '/v1/models', cut.url)).status).toBe(200);
      proxy.cut();
      const during = [];
      for (let i = 0; i < 5; i += 1) during.push(await call(f.user, '/v1/models', cut.url));
      // A full bucket of the same rate in this process: 3 answered, then 429 with Retry-After.
      expect(statuses(during)).toEqual([200, 200, 200, 429, 429]);
      expect(during[3]?.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/);
      expect((await call(free.user, '/v1/models', cut.url)).status).toBe(200);

      proxy.restore();
      const restoredAt = Date.now();
      let back: ApiResponse | undefined;
      for (let i = 0; i < 60 && back?.status !== 200; i += 1) {
        await sleep(250);
        back = await call(f.user, '/v1/models', cut.url);
      }
      // The local bucket is empty (it refills one token in 20 s): this 200 came from Redis,
      // whose bucket still held 2 tokens, and which recorded it.
      expect(back?.status).toBe(200);
      const state = await kit.redis.client.get(`t:${f.id}:quota:rpm:api`);
      expect(Number(state?.split(':')[1])).toBeGreaterThanOrEqual(restoredAt);
    } finally {
      await cut.close();
      await proxy.close();
    }
  });

  it("records daily usage, which the tenant's MSP reads and no other MSP can", async () => {
    const h = await newTenant({});
    for (let i = 0; i < 4; i += 1) expect((await call(h.user)).status).toBe(200);
    const stranger = await idp.token({ msp_id: freshId('msp'), roles: ['operator'] });
    const refused = await usageOf(h.id, stranger);
    expect(refused.status).toBe(404);
    expect(refused.body).toMatchObject({ error: { code: 'not_found' } });
    const own = await usageOf(h.id);
    expect(own.status).toBe(200);
    expect(own.body).toEqual({
      tenant_id: h.id,
      from: expect.any(String),
      to: utcDay(Date.now()),
      data: [{ day: utcDay(Date.now()), requests: 4, tokens: 0, models: [] }],
    });
    const impossible = await api(
      gateway.url,
      operator,
      'GET',
      `/v1/tenants/${h.id}/usage?from=2026-02-30`,
    );
    expect(impossible.status).toBe(400);
    expect(impossible.body).toMatchObject({ error: { code: 'invalid_request', param: 'from' } });
  });
});
