// What a tenant's request quota costs, measured in one run on the local stack's Redis:
//   * p50 of one admission (the token-bucket Lua script, EVALSHA through the tenant's ACL user)
//     against one plain GET on the same connection, sequentially;
//   * admissions/s against GETs/s with `concurrency` calls in flight.
//   npm run build && node dist/bench/quota.js [--calls 5000 --concurrency 32]
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  FalkorAdmin,
  MasterKey,
  QdrantAdmin,
  FailSoftCache,
  RedisAdmin,
  StoreProvisioner,
  TenantCache,
  TenantContext,
  TenantRequestLimiter,
  tenantNames,
} from '@isogate/isolation';
import { benchConfig, quantile, timed } from './support.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '32' },
  },
});
const calls = Number(values.calls);
const concurrency = Number(values.concurrency);
const config = benchConfig();
const masterKey = new MasterKey(config.keys.masterKey);
const redis = new RedisAdmin(config.cache.url);
const falkor = new FalkorAdmin(config.graph.url);
const qdrant = new QdrantAdmin({ url: config.vectors.url, apiKey: config.vectors.apiKey });
const provisioner = new StoreProvisioner({
  qdrant,
  graphUrl: config.graph.url,
  falkor,
  cache: redis,
  masterKey,
});
const cache = new TenantCache({
  url: config.cache.url,
  masterKey,
  recreateUser: (t) => provisioner.ensureCacheUser(t),
});
const limiter = new TenantRequestLimiter(
  new FailSoftCache({ cache, commandTimeoutMs: 5_000, retryAfterMs: 5_000 }),
);
const tenantId = `bench-quota-${randomUUID().slice(0, 8)}`;
const context = {
  kind: 'tenant',
  tenantId,
  subject: 'bench',
  roles: ['user'],
  requestId: 'b',
} as const;

const admit = () => limiter.take(1_000_000_000);
const get = () => cache.get('quota:bench');

async function sequential(work: () => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < calls; i += 1) samples.push(await timed(work));
  return quantile(samples, 0.5);
}

async function perSecond(work: () => Promise<unknown>): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next++ < calls) await work();
  };
  const ms = await timed(() => Promise.all(Array.from({ length: concurrency }, worker)));
  return (calls / ms) * 1000;
}

async function main(): Promise<void> {
  await provisioner.ensureCacheUser(tenantId);
  await TenantContext.run(context, async () => {
    for (let i = 0; i < 200; i += 1) await Promise.all([admit(), get()]);
    const [getP50, admitP50] = [await sequential(get), await sequential(admit)];
    const [getRate, admitRate] = [await perSecond(get), await perSecond(admit)];
    const line = (name: string, value: string, ratio: number) =>
      process.stdout.write(`${name.padEnd(34)} ${value.padStart(12)}   ${ratio.toFixed(2)}x GET\n`);
    process.stdout.write(`${calls} calls, ${concurrency} in flight for the rates\n`);
    line('p50 GET (baseline)', `${getP50.toFixed(3)} ms`, 1);
    line('p50 admission (Lua token bucket)', `${admitP50.toFixed(3)} ms`, admitP50 / getP50);
    line('GET/s (baseline)', getRate.toFixed(0), 1);
    line('admissions/s', admitRate.toFixed(0), admitRate / getRate);
  });
}

main()
  .finally(async () => {
    await redis.client.del(`${tenantNames(tenantId).keyPrefix}quota:rpm:api`);
    await redis.client.call('ACL', 'DELUSER', tenantNames(tenantId).aclUser);
    cache.close();
    await Promise.allSettled([provisioner.close(), falkor.close(), redis.close()]);
  })
  .catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
