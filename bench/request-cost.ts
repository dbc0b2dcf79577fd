// bench/request-cost: what one request costs the gateway, route by route, sent one at a time by
// a client in its own process: latency p50/p99 and this process's CPU time per request, against
// a bare Node HTTP server in this same process answering the same client (the floor of any
// server on the machine). Rounds interleave the cases, and medians across rounds are reported,
// because a shared machine drifts. The test LLM runs in its own process and answers at once.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGateway } from '../apps/gateway/src/gateway.js';
import {
  CHAT_BODY,
  createChatTenant,
  llmSettings,
  runLoad,
  startBenchLlm,
} from './chat-fixture.js';
import type { LoadArm } from './chat-load.js';
import { benchConfig, quantile } from './support.js';

const ROUNDS = Number(process.env.BENCH_COST_ROUNDS ?? 3);
const REQUESTS = Number(process.env.BENCH_COST_REQUESTS ?? 1_000);

const bare = createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
});
await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
const llm = await startBenchLlm();
const cached = await createGateway(benchConfig(llmSettings(llm.url)));
await cached.listen({ host: '127.0.0.1', port: 0 });
const uncached = await createGateway(
  benchConfig({ ...llmSettings(llm.url), CHAT_CACHE_TTL_SECONDS: '0' }),
);
await uncached.listen({ host: '127.0.0.1', port: 0 });
const origin = (server: { address(): AddressInfo | string | null }) =>
  `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const on = origin(uncached.getHttpServer());
const tenant = await createChatTenant(origin(cached.getHttpServer()), 'bench-cost');
const headers = { authorization: `Bearer ${tenant.userToken}` };
const query = { query: CHAT_BODY.messages[0].content, top_k: 5 };

type Case = Omit<LoadArm, 'mode'>;
const cases: Record<string, Case> = {
  'bare node:http (baseline)': { url: `${origin(bare)}/`, headers: {} },
  'GET /healthz (public, not audited)': { url: `${on}/healthz`, headers: {} },
  'GET /v1/models (token, audit event)': { url: `${on}/v1/models`, headers },
  'POST /v1/retrieve': { url: `${on}/v1/retrieve`, headers, body: query },
  'POST /v1/chat/completions, cache off': {
    url: `${on}/v1/chat/completions`,
    headers,
    body: CHAT_BODY,
  },
  'POST /v1/chat/completions, cache hit': {
    url: `${origin(cached.getHttpServer())}/v1/chat/completions`,
    headers,
    body: CHAT_BODY,
  },
};

async function probe(arm: Case): Promise<{ p50: number; p99: number; cpu: number }> {
  const before = process.cpuUsage();
  const result = await runLoad({ ...arm, mode: 'probe', requests: REQUESTS });
  const used = process.cpuUsage(before);
  if ((result.failed ?? 0) > 0) throw new Error(`${arm.url}: ${result.failed} requests failed`);
  return {
    p50: result.p50 ?? NaN,
    p99: result.p99 ?? NaN,
    cpu: (used.user + used.system) / 1_000 / REQUESTS,
  };
}

const rows: Record<string, { p50: number; p99: number; cpu: number }[]> = {};
for (let round = 1; round <= ROUNDS; round++) {
  for (const [name, arm] of Object.entries(cases)) {
    (rows[name] ??= []).push(await probe(arm));
  }
  console.error(`round ${round} of ${ROUNDS} done`);
}

const median = (values: number[]) => quantile(values, 0.5);
const baseline = median((rows['bare node:http (baseline)'] ?? []).map((r) => r.cpu));
console.log(
  `\none request at a time, ${REQUESTS} per case and round, medians of ${ROUNDS} interleaved rounds\n`,
);
console.log('| case | p50 ms | p99 ms | CPU ms/request | CPU vs bare |');
console.log('|---|---|---|---|---|');
for (const [name, results] of Object.entries(rows)) {
  const cpu = median(results.map((r) => r.cpu));
  console.log(
    `| ${name} | ${median(results.map((r) => r.p50)).toFixed(3)} | ${median(results.map((r) => r.p99)).toFixed(3)} | ` +
      `${cpu.toFixed(3)} | ${(cpu / baseline).toFixed(1)}x |`,
  );
}

await tenant.remove();
await cached.close();
await uncached.close();
bare.close();
llm.process.kill('SIGTERM');
