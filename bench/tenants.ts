// Provisions 1,000 tenants through the gateway on the local stack and reports provisioning
// and deletion latency, resident memory per store at 10 and at 1,000 tenants, and /readyz and
// an authenticated request at 10 vs 1,000 tenants (ratios measured in the same run).
//   npm run bench:tenants [-- --tenants 1000]
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createGateway } from '../apps/gateway/src/gateway.js';
import { benchConfig, benchSigner, fmt, quantile, residentKiB, timed } from './support.js';

const { values } = parseArgs({ options: { tenants: { type: 'string', default: '1000' } } });
const total = Number(values.tenants);
const sign = benchSigner('bench');

const STORES = { postgres: 5432, redis: 6379, falkordb: 6380, qdrant: 6333 } as const;
const memory = () =>
  Object.fromEntries(Object.entries(STORES).map(([name, port]) => [name, residentKiB(port)]));

const app = await createGateway(benchConfig());
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.getHttpServer().address();
const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
const msp = `bench-${randomUUID().slice(0, 6)}`;
const operator = await sign({ msp_id: msp, roles: ['operator'] });
const ids: string[] = [];
const provisioning: number[] = [];

async function provisionUpTo(count: number): Promise<void> {
  while (ids.length < count) {
    const id = `${msp}-${ids.length}`;
    provisioning.push(
      await timed(async () => {
        const response = await fetch(`${url}/v1/tenants`, {
          method: 'POST',
          headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
          body: JSON.stringify({ id, name: id }),
        });
        if (response.status !== 201) throw new Error(`create ${id}: HTTP ${response.status}`);
      }),
    );
    ids.push(id);
    if (ids.length % 100 === 0) process.stdout.write(`  ${ids.length} tenants\n`);
  }
}

async function latencies(
  path: string,
  token?: string,
  n = 300,
): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    samples.push(
      await timed(async () => {
        const response = await fetch(`${url}${path}`, {
          headers: token ? { authorization: `Bearer ${token}` } : {},
        });
        await response.arrayBuffer();
        if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
      }),
    );
  }
  return { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99) };
}

async function snapshot(label: string) {
  const tenantToken = await sign({ tenant_id: ids[0], roles: ['user'] });
  return {
    label,
    memory: memory(),
    readyz: await latencies('/readyz'),
    auth: await latencies('/v1/models', tenantToken),
  };
}

try {
  await provisionUpTo(10);
  const at10 = await snapshot('10');
  await provisionUpTo(total);
  const atTotal = await snapshot(String(total));
  const deletion: number[] = [];
  for (const id of ids.splice(0)) {
    deletion.push(
      await timed(async () => {
        const response = await fetch(`${url}/v1/tenants/${id}`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${operator}` },
        });
        if (response.status !== 200) throw new Error(`delete ${id}: HTTP ${response.status}`);
      }),
    );
  }
  const line = (name: string, a: number, b: number, unit = '') =>
    `  ${name.padEnd(34)} ${a.toFixed(1)}${unit} -> ${b.toFixed(1)}${unit}  (x${(b / a).toFixed(2)})`;
  process.stdout.write(
    [
      `tenants: ${total}`,
      `provisioning p50 ${fmt(quantile(provisioning, 0.5))}, p99 ${fmt(quantile(provisioning, 0.99))}`,
      `deletion p50 ${fmt(quantile(deletion, 0.5))}, p99 ${fmt(quantile(deletion, 0.99))}`,
      `at 10 -> at ${total} tenants:`,
      ...Object.keys(STORES).map((s) =>
        line(`${s} resident MiB`, (at10.memory[s] ?? 0) / 1024, (atTotal.memory[s] ?? 0) / 1024),
      ),
      line('/readyz p50', at10.readyz.p50, atTotal.readyz.p50, ' ms'),
      line('authenticated request p50', at10.auth.p50, atTotal.auth.p50, ' ms'),
      line('authenticated request p99', at10.auth.p99, atTotal.auth.p99, ' ms'),
      '',
    ].join('\n'),
  );
} finally {
  // A run that failed part-way removes what it created, so the stores are left as they were.
  for (const id of ids) {
    await fetch(`${url}/v1/tenants/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${operator}` },
    }).catch(() => undefined);
  }
  await app.close();
}
