// bench/chat: chat completions through the gateway against the same request sent straight to a
// test LLM that answers at once, at a fixed rate in an open loop (warm-up, arms interleaved,
// five runs), plus the gateway's own overhead (`x-gateway-overhead-ms`), cache hits, sequential
// sub-millisecond probes and the maximum throughput (autocannon, closed loop). The LLM and the load generator run in
// their own processes; the gateway runs in this one.
import { createGateway } from '../apps/gateway/src/gateway.js';
import {
  CHAT_BODY,
  createChatTenant,
  llmSettings,
  runLoad as load,
  startBenchLlm,
} from './chat-fixture.js';
import { benchConfig, quantile } from './support.js';

const RATE = Number(process.env.BENCH_CHAT_RATE ?? 200);
const RUNS = Number(process.env.BENCH_CHAT_RUNS ?? 5);
const SECONDS = Number(process.env.BENCH_CHAT_SECONDS ?? 10);

const llm = await startBenchLlm();
const llmUrl = llm.url;
const common = llmSettings(llmUrl);
const cached = await createGateway(benchConfig(common));
await cached.listen({ host: '127.0.0.1', port: 0 });
const uncached = await createGateway(benchConfig({ ...common, CHAT_CACHE_TTL_SECONDS: '0' }));
await uncached.listen({ host: '127.0.0.1', port: 0 });
const urlOf = (app: typeof cached) => {
  const address = app.getHttpServer().address();
  return `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
};

const tenant = await createChatTenant(urlOf(cached), 'bench-chat');
const user = tenant.userToken;
const body = CHAT_BODY;
const headers = { authorization: `Bearer ${user}` };
const arms = {
  direct: { url: `${llmUrl}/chat/completions`, headers: {}, body },
  gateway: { url: `${urlOf(uncached)}/v1/chat/completions`, headers, body },
  'cache hit': { url: `${urlOf(cached)}/v1/chat/completions`, headers, body },
} as const;
// Fills the cache.
await fetch(arms['cache hit'].url, {
  method: 'POST',
  headers: { ...headers, 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

type Row = Record<string, number>;
const runs: Record<keyof typeof arms, Row[]> = { direct: [], gateway: [], 'cache hit': [] };
for (let run = 1; run <= RUNS; run++) {
  for (const name of Object.keys(arms) as (keyof typeof arms)[]) {
    // The gateways run in this process, so its CPU time during a run is theirs (the load and
    // the test LLM run in their own processes).
    const cpu = process.cpuUsage();
    const row = await load({ mode: 'rate', rate: RATE, seconds: SECONDS, ...arms[name] });
    const used = process.cpuUsage(cpu);
    row.cpuMsPerRequest = (used.user + used.system) / 1_000 / Math.max(1, row.sent ?? 0);
    runs[name].push(row);
    console.error(`run ${run} ${name}: ${JSON.stringify(row)}`);
  }
}
const median = (rows: Row[], key: string) =>
  quantile(
    rows.map((r) => r[key] ?? NaN),
    0.5,
  );
const probes: Record<string, Row> = {};
for (const name of Object.keys(arms) as (keyof typeof arms)[]) {
  probes[name] = await load({ mode: 'probe', requests: 2_000, ...arms[name] });
}
const max: Record<string, Row> = {};
for (const name of ['direct', 'gateway', 'cache hit'] as const) {
  max[name] = await load({ mode: 'max', seconds: SECONDS, ...arms[name] });
}

const f = (n: number | undefined, digits = 2) =>
  n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits);
console.log(
  `\nchat at ${RATE} req/s, ${RUNS} interleaved runs of ${SECONDS} s (medians across runs)\n`,
);
console.log(
  '| arm | p50 ms | p99 ms | non-2xx | overhead p50 ms | overhead p99 ms | gateway CPU ms/req | client lag ms | probe p50 ms | probe p99 ms | max req/s |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const name of Object.keys(arms) as (keyof typeof arms)[]) {
  const rows = runs[name];
  console.log(
    `| ${name} | ${f(median(rows, 'p50'), 2)} | ${f(median(rows, 'p99'), 2)} | ${rows.reduce((s, r) => s + (r.non2xx ?? 0) + (r.errors ?? 0), 0)} | ` +
      `${f(median(rows, 'overheadP50'), 3)} | ${f(median(rows, 'overheadP99'), 3)} | ${name === 'direct' ? '-' : f(median(rows, 'cpuMsPerRequest'), 2)} | ${f(Math.max(...rows.map((r) => r.clientLagMs ?? 0)), 1)} | ` +
      `${f(probes[name]?.p50, 3)} | ${f(probes[name]?.p99, 3)} | ${f(max[name]?.rps, 0)} |`,
  );
}
const delta = (key: string) => median(runs.gateway, key) - median(runs.direct, key);
console.log(
  `\ngateway - direct at ${RATE} req/s: Δp50 ${f(delta('p50'), 2)} ms, Δp99 ${f(delta('p99'), 2)} ms (open loop)`,
);
console.log(
  `gateway - direct, sequential probe: Δp50 ${f((probes.gateway?.p50 ?? NaN) - (probes.direct?.p50 ?? NaN), 3)} ms, Δp99 ${f((probes.gateway?.p99 ?? NaN) - (probes.direct?.p99 ?? NaN), 3)} ms`,
);
console.log(
  `overhead goal (p50 <= 1 ms, p99 <= 3 ms at ${RATE} req/s): p50 ${f(median(runs.gateway, 'overheadP50'), 3)}, p99 ${f(median(runs.gateway, 'overheadP99'), 3)}`,
);
console.log(
  `cache-hit goal (p50 <= 1.5 ms with the durable audit write): probe p50 ${f(probes['cache hit']?.p50, 3)} ms`,
);

await tenant.remove();
await cached.close();
await uncached.close();
llm.process.kill('SIGTERM');
