// Audit trail cost, measured in one run on the local stack's test database:
//   * sustained appends/s through AuditTrail for `--seconds`, one tenant vs `--tenants`, with
//     `--concurrency` appends in flight; every chain is then read back and verified;
//   * p50 latency of GET /v1/models through the gateway with the audit append and with it
//     replaced by a no-op in the same process (audit on vs off), and the WAL flush floor: the
//     same one-event append committed with synchronous_commit on and off (one round trip
//     each). The four run in rotating blocks, so that each sees the same load;
//   * with `--export-events N`: an export of an N-event chain (time, peak memory), streamed.
//   npm run bench:audit [-- --seconds 10 --tenants 50 --requests 2000 --concurrency 64]
//   npm run bench:audit -- --export-events 1000000
import { createHash, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { AuditReader, AuditTrail, ChainVerifier, type AuditDraft } from '@isogate/audit';
import {
  AuditCheckpointsRepository,
  AuditEventsRepository,
  PostgresPools,
  TenantContext,
} from '@isogate/isolation';
import { createGateway } from '../apps/gateway/src/gateway.js';
import { loadEnvSource } from '../apps/gateway/src/config/env-source.js';
import { benchConfig, benchSigner, quantile, timed } from './support.js';

const num = (value: number) => value.toFixed(value >= 100 ? 0 : 2);
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    tenants: { type: 'string', default: '50' },
    requests: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '64' },
    'export-events': { type: 'string', default: '0' },
  },
});
const env = loadEnvSource({ ...process.env, NODE_ENV: 'test' });
const run = randomUUID().slice(0, 6);
const pools = new PostgresPools({ url: env.TEST_DATABASE_URL ?? '', poolMax: 20 });
const owner = new pg.Pool({ connectionString: env.TEST_DATABASE_ADMIN_URL, max: 2 });
const ownerPools = new PostgresPools({ url: env.TEST_DATABASE_ADMIN_URL ?? '', poolMax: 2 });
const gatewayEvents = new AuditEventsRepository(pools);
const draft = (): AuditDraft => ({
  id: randomUUID(),
  actor: 'bench',
  roles: ['user'],
  action: 'GET /v1/models',
  resource: '/v1/models',
  outcome: 'ok',
  status: 200,
  request_id: randomUUID(),
  details: {},
});
const rows: [string, string][] = [];
const clients: pg.Client[] = [];

/**
 * One-event appends, one round trip each, committed with synchronous_commit `mode` (on a
 * connection of its own): the same work with and without waiting for the WAL flush.
 */
async function directAppender(mode: 'on' | 'off'): Promise<() => Promise<unknown>> {
  const client = new pg.Client({ connectionString: env.TEST_DATABASE_URL });
  await client.connect();
  clients.push(client);
  const trail = new AuditTrail({
    ping: async () => undefined,
    appendChains: async (chains) => {
      const payload = client.escapeLiteral(JSON.stringify(chains));
      // The function sets synchronous_commit on for its transaction; a later SET LOCAL wins.
      const results = (await client.query(
        `BEGIN; SELECT audit_append(${payload}::jsonb) AS outcomes;` +
          ` SET LOCAL synchronous_commit = ${mode}; COMMIT`,
      )) as unknown as pg.QueryResult<{ outcomes: never[] }>[];
      return results[1]?.rows[0]?.outcomes ?? [];
    },
  });
  const tenantId = `bench-fsync-${mode}-${run}`;
  return () => trail.append({ kind: 'tenant', tenantId }, draft());
}

/** Appends for `seconds` spread over `tenants`; then checks every chain as stored. */
async function sustained(tenants: readonly string[]): Promise<{ rate: number; intact: boolean }> {
  const trail = new AuditTrail(gatewayEvents);
  const deadline = Date.now() + Number(values.seconds) * 1000;
  const counts = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (Date.now() < deadline) {
      const tenantId = tenants[next++ % tenants.length] as string;
      await trail.append({ kind: 'tenant', tenantId }, draft());
      counts.set(tenantId, (counts.get(tenantId) ?? 0) + 1);
    }
  };
  const ms = await timed(() =>
    Promise.all(Array.from({ length: Number(values.concurrency) }, worker)),
  );
  const appended = [...counts.values()].reduce((a, b) => a + b, 0);
  let intact = true;
  for (const [tenantId, count] of counts) intact &&= (await storedChainValid(tenantId)) === count;
  return { rate: (appended / ms) * 1000, intact };
}

/** The number of events of a stored chain when it verifies from genesis to its head, else -1. */
async function storedChainValid(tenantId: string): Promise<number> {
  const reader = new AuditReader(
    new AuditEventsRepository(ownerPools),
    new AuditCheckpointsRepository(ownerPools),
  );
  const context = {
    kind: 'tenant',
    tenantId,
    subject: 'bench',
    roles: [],
    requestId: 'b',
  } as const;
  return TenantContext.run(context, async () => {
    const head = await reader.head();
    const verifier = new ChainVerifier();
    for await (const event of reader.iterate({})) verifier.push(event);
    const report = verifier.finish({ atLeast: head?.seq ?? 0, atMost: head?.seq ?? 0 });
    return report.valid ? report.events : -1;
  });
}

const tenantCount = Number(values.tenants);
const one = await sustained([`bench-one-${run}`]);
const many = await sustained(
  Array.from({ length: tenantCount }, (_, i) => `bench-many-${run}-${i}`),
);
rows.push([`appends/s sustained ${values.seconds} s, 1 tenant`, num(one.rate)]);
rows.push([`appends/s sustained ${values.seconds} s, ${tenantCount} tenants`, num(many.rate)]);
rows.push(['ratio many/one', num(many.rate / one.rate)]);
rows.push(['chains intact as stored (verified)', String(one.intact && many.intact)]);

const app = await createGateway(benchConfig());
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.getHttpServer().address();
const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
const tenant = `bench-lat-${run}`;
await owner.query(`BEGIN; SELECT set_config('app.msp_id', 'bench-msp', true);
  INSERT INTO tenants (id, msp_id, name, status) VALUES ('${tenant}', 'bench-msp', 'b', 'active'); COMMIT;`);
const sign = benchSigner('bench');
const token = await sign({ tenant_id: tenant, roles: ['user', 'auditor'] });
const get = (path: string) =>
  fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });

// Audit off: the same gateway with the append replaced by a no-op (bench only), toggled per
// block so that both sides see the same load from whatever else runs on the machine.
const gatewayTrail = app.get(AuditTrail);
const realAppend = gatewayTrail.append.bind(gatewayTrail);
let auditOn = true;
gatewayTrail.append = (...args) =>
  auditOn ? realAppend(...args) : Promise.resolve({} as Awaited<ReturnType<typeof realAppend>>);
// Four series in rotating blocks, so that each sees the same load from whatever else runs.
const series = {
  on: () => get('/v1/models').then((r) => r.arrayBuffer()),
  off: () => get('/v1/models').then((r) => r.arrayBuffer()),
  syncOn: await directAppender('on'),
  syncOff: await directAppender('off'),
};
const samples = {
  on: [] as number[],
  off: [] as number[],
  syncOn: [] as number[],
  syncOff: [] as number[],
};
const names = Object.keys(series) as (keyof typeof series)[];
const block = 50;
for (let i = 0; i < 100; i += 1) await series.on(); // warm-up
for (let done = 0; done < Number(values.requests) * 2; done += block) {
  const name = names[(done / block) % names.length] as keyof typeof series;
  auditOn = name !== 'off';
  for (let i = 0; i < block; i += 1) samples[name].push(await timed(series[name]));
}
auditOn = true;
const p50 = (name: keyof typeof samples) => quantile(samples[name], 0.5);
const added = p50('on') - p50('off');
const floor = p50('syncOn') - p50('syncOff');
rows.push(['p50 ms GET /v1/models, audit on / off', `${num(p50('on'))} / ${num(p50('off'))}`]);
rows.push(['p50 ms added by audit', num(added)]);
rows.push([
  'p99 ms GET /v1/models, audit on / off',
  `${num(quantile(samples.on, 0.99))} / ${num(quantile(samples.off, 0.99))}`,
]);
rows.push([
  'p50 ms one-event append, sync commit on / off',
  `${num(p50('syncOn'))} / ${num(p50('syncOff'))}`,
]);
rows.push(['WAL flush floor (sync on - off), ms', num(floor)]);
rows.push(['p50 ms added by audit beyond the flush', num(added - floor)]);

const exportEvents = Number(values['export-events']);
if (exportEvents > 0) rows.push(...(await exportRun(exportEvents)));
await app.close();
await Promise.all(clients.map((c) => c.end()));
await owner.end();
await ownerPools.close();
await pools.close();
await removeBenchChains();
for (const [name, value] of rows) process.stdout.write(`${name.padEnd(44)} ${value}\n`);

/**
 * Removes this run's chains from the test database (they are append-only for every role but a
 * superuser with triggers off), so repeated runs do not grow it by a million rows each.
 */
async function removeBenchChains(): Promise<void> {
  if (env.TEST_DATABASE_SUPERUSER_URL === undefined) return;
  const su = new pg.Client({ connectionString: env.TEST_DATABASE_SUPERUSER_URL });
  await su.connect();
  try {
    const pattern = `bench-%${run}%`;
    await su.query('BEGIN');
    await su.query('SET LOCAL session_replication_role = replica');
    for (const table of ['interactions', 'audit_events', 'audit_checkpoints', 'audit_heads'])
      await su.query(`DELETE FROM ${table} WHERE tenant_id LIKE $1`, [pattern]);
    await su.query('DELETE FROM tenants WHERE id LIKE $1', [pattern]);
    await su.query('COMMIT');
  } finally {
    await su.end();
  }
}

/** Fills the latency tenant's chain to `events`, then exports it: time and peak memory. */
async function exportRun(events: number): Promise<[string, string][]> {
  const trail = new AuditTrail(gatewayEvents);
  let next = 0;
  const fill = async () => {
    while (next < events) {
      next += 1;
      await trail.append({ kind: 'tenant', tenantId: tenant }, draft());
    }
  };
  const fillMs = await timed(() => Promise.all(Array.from({ length: 512 }, fill)));
  // RSS shows what the process holds, garbage included; the heap after a full collection (once
  // a second, with --expose-gc) shows what the export really keeps alive.
  global.gc?.();
  const baseline = process.memoryUsage();
  let peak = baseline.rss;
  let livePeak = baseline.heapUsed;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const collector = setInterval(() => {
    global.gc?.();
    livePeak = Math.max(livePeak, process.memoryUsage().heapUsed);
  }, 1000);
  let bytes = 0;
  let lines = 0;
  const digest = createHash('sha256');
  const exportMs = await timed(async () => {
    const response = await get('/v1/audit/export');
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      digest.update(chunk);
      for (const byte of chunk) if (byte === 0x0a) lines += 1;
    }
  });
  clearInterval(sampler);
  clearInterval(collector);
  const mib = (n: number) => (n / 1048576).toFixed(0);
  return [
    [`events appended for the export (${events})`, `${num((events / fillMs) * 1000)}/s`],
    ['export lines (events + manifest)', String(lines)],
    ['export size MiB', mib(bytes)],
    ['export time s', num(exportMs / 1000)],
    ['export events/s', num(((lines - 1) / exportMs) * 1000)],
    ['RSS MiB before export / peak during', `${mib(baseline.rss)} / ${mib(peak)}`],
    [
      `live heap MiB before / peak during${global.gc ? '' : ' (needs --expose-gc)'}`,
      `${mib(baseline.heapUsed)} / ${mib(livePeak)}`,
    ],
  ];
}
