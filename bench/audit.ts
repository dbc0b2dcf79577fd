// Audit trail throughput and cost, measured in one run on the local stack's test database:
//   * appends/s through AuditTrail: every append on one tenant's chain vs spread over many
//     tenants, `concurrency` appends in flight; the chains are verified afterwards;
//   * p50 latency of GET /v1/models through the gateway with the audit append, and with the
//     append replaced by a no-op in the same process (audit on vs off, same route and auth).
//   npm run bench:audit [-- --events 4000 --tenants 50 --requests 2000 --concurrency 64]
import { randomUUID } from 'node:crypto';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import pg from 'pg';
import {
  AuditTrail,
  ChainVerifier,
  eventHash,
  type AuditDraft,
  type AuditEvent,
} from '@isogate/audit';
import { ControlDb, TenantDb } from '@isogate/isolation';
import { createGateway } from '../apps/gateway/src/gateway.js';
import { loadEnvSource } from '../apps/gateway/src/config/env-source.js';
import { benchConfig, quantile, timed } from './support.js';

const num = (value: number) => value.toFixed(value >= 100 ? 0 : 2);

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '4000' },
    tenants: { type: 'string', default: '50' },
    requests: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '64' },
  },
});
const total = Number(values.events);
const tenantCount = Number(values.tenants);
const concurrency = Number(values.concurrency);
const env = loadEnvSource({ ...process.env, NODE_ENV: 'test' });
const run = randomUUID().slice(0, 6);

const pool = new pg.Pool({ connectionString: env.TEST_DATABASE_URL, max: 20 });
const trail = new AuditTrail(new TenantDb(pool), new ControlDb(pool));
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

/** Appends `total` events spread over `tenants`, `concurrency` at a time; events per second. */
async function appendRate(
  tenants: readonly string[],
): Promise<{ rate: number; events: AuditEvent[] }> {
  const events: AuditEvent[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const tenantId = tenants[i % tenants.length] as string;
      events.push(await trail.append({ kind: 'tenant', tenantId }, draft()));
    }
  };
  const ms = await timed(() => Promise.all(Array.from({ length: concurrency }, worker)));
  return { rate: (total / ms) * 1000, events };
}

function chainsHold(events: readonly AuditEvent[]): boolean {
  const byTenant = new Map<string, AuditEvent[]>();
  for (const e of events)
    byTenant.set(e.tenant_id as string, [...(byTenant.get(e.tenant_id as string) ?? []), e]);
  return [...byTenant.values()].every((list) => {
    const verifier = new ChainVerifier();
    for (const e of list.sort((a, b) => a.seq - b.seq)) verifier.push(e);
    return verifier.finish().valid && list.every((e) => eventHash(e) === e.hash);
  });
}

const one = await appendRate([`bench-one-${run}`]);
const many = await appendRate(
  Array.from({ length: tenantCount }, (_, i) => `bench-many-${run}-${i}`),
);

const key = createPrivateKey(readFileSync(env.JWT_DEV_PRIVATE_KEY_FILE as string, 'utf8'));
const app = await createGateway(benchConfig());
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.getHttpServer().address();
const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
const owner = new pg.Pool({ connectionString: env.TEST_DATABASE_ADMIN_URL, max: 2 });
const tenant = `bench-lat-${run}`;
await owner.query(`BEGIN; SELECT set_config('app.msp_id', 'bench-msp', true);
  INSERT INTO tenants (id, msp_id, name, status) VALUES ('${tenant}', 'bench-msp', 'b', 'active'); COMMIT;`);
const token = await new SignJWT({ tenant_id: tenant, roles: ['user'] })
  .setProtectedHeader({ alg: 'ES256' })
  .setIssuer(env.JWT_ISSUER as string)
  .setAudience(env.JWT_AUDIENCE as string)
  .setSubject('bench')
  .setExpirationTime('1h')
  .sign(key);
const latencies = async (path: string, auth: boolean) => {
  const samples: number[] = [];
  for (let i = 0; i < Number(values.requests); i += 1) {
    samples.push(
      await timed(() =>
        fetch(`${url}${path}`, auth ? { headers: { authorization: `Bearer ${token}` } } : {}).then(
          (r) => r.arrayBuffer(),
        ),
      ),
    );
  }
  return samples;
};
await latencies('/v1/models', true); // warm-up
const audited = await latencies('/v1/models', true);
// Audit off: the same gateway with the append replaced by a no-op (bench only).
const gatewayTrail = app.get(AuditTrail);
gatewayTrail.append = async () => ({}) as AuditEvent;
gatewayTrail.preflight = async () => undefined;
await latencies('/v1/models', true);
const unaudited = await latencies('/v1/models', true);
await app.close();
await owner.end();
await pool.end();

const rows = [
  ['appends/s, 1 tenant', num(one.rate)],
  [`appends/s, ${tenantCount} tenants`, num(many.rate)],
  ['ratio many/one', num(many.rate / one.rate)],
  ['chains intact', String(chainsHold(one.events) && chainsHold(many.events))],
  ['p50 ms GET /v1/models, audit on', num(quantile(audited, 0.5))],
  ['p50 ms GET /v1/models, audit off', num(quantile(unaudited, 0.5))],
  ['p50 ms added by audit', num(quantile(audited, 0.5) - quantile(unaudited, 0.5))],
  ['p99 ms on / off', `${num(quantile(audited, 0.99))} / ${num(quantile(unaudited, 0.99))}`],
];
for (const [name, value] of rows) process.stdout.write(`${(name as string).padEnd(40)} ${value}\n`);
