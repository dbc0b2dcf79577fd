// bench/failover: requests lost when the primary model upstream dies under load. The gateway
// (this process) routes one logical model to two upstreams of the same attributes, each a test
// LLM in its own process; an open loop sends chat requests at a fixed rate (its own process,
// bench/chat-load) and the primary is killed (SIGKILL) a few seconds in. Side by side, the same
// load against a gateway with the primary alone, killed the same way: what is lost without a
// fallback. The goal is no request lost with one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway } from '../apps/gateway/src/gateway.js';
import { CHAT_BODY, createChatTenant, runLoad, startBenchLlm } from './chat-fixture.js';
import { benchConfig } from './support.js';

const RATE = Number(process.env.BENCH_FAILOVER_RATE ?? 200);
const SECONDS = Number(process.env.BENCH_FAILOVER_SECONDS ?? 10);
/** When the primary is killed, after the load's 2 s warm-up. */
const KILL_AFTER_MS = Number(process.env.BENCH_FAILOVER_KILL_AFTER_MS ?? 5_000);

const dir = mkdtempSync(join(tmpdir(), 'isogate-failover-'));

/** A catalog whose model `bench-chat` goes to the given upstreams, in order. */
function catalogFile(name: string, urls: readonly string[]): string {
  const upstreams = urls.map((url, i) => ({
    id: `upstream-${i + 1}`,
    kind: 'openai-compatible',
    purpose: 'chat',
    base_url: url,
    model: 'bench-chat',
    context_tokens: 8192,
    timeout_ms: 2_000,
    region: 'us-east',
    baa: true,
    zero_retention: true,
  }));
  const models = [{ name: 'bench-chat', purpose: 'chat', upstreams: upstreams.map((u) => u.id) }];
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ upstreams, models }));
  return file;
}

/** One arm: a gateway on `upstreams`, load at RATE, the first upstream killed mid-run. */
async function arm(name: string, withFallback: boolean) {
  const primary = await startBenchLlm();
  const secondary = withFallback ? await startBenchLlm() : undefined;
  const urls = [primary.url, ...(secondary !== undefined ? [secondary.url] : [])];
  const gateway = await createGateway(
    benchConfig({ MODELS_FILE: catalogFile(name, urls), CHAT_CACHE_TTL_SECONDS: '0' }),
  );
  await gateway.listen({ host: '127.0.0.1', port: 0 });
  const address = gateway.getHttpServer().address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  const tenant = await createChatTenant(url, `bench-failover-${name}`);
  const load = runLoad({
    mode: 'rate',
    rate: RATE,
    seconds: SECONDS,
    url: `${url}/v1/chat/completions`,
    headers: { authorization: `Bearer ${tenant.userToken}` },
    body: CHAT_BODY,
  });
  await new Promise((resolve) => setTimeout(resolve, 2_000 + KILL_AFTER_MS));
  primary.process.kill('SIGKILL');
  const result = await load;
  await tenant.remove();
  await gateway.close();
  secondary?.process.kill('SIGTERM');
  return { arm: name, lost: (result.non2xx ?? 0) + (result.errors ?? 0), stats: result };
}

const rows = [await arm('with-fallback', true), await arm('primary-alone', false)];
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ rate: RATE, seconds: SECONDS, killAfterMs: KILL_AFTER_MS, rows }));
console.log(
  `\nchat at ${RATE} requests/s for ${SECONDS} s, the primary upstream killed ${KILL_AFTER_MS / 1000} s in\n`,
);
console.log('| arm | sent in the window | lost (non-2xx + errors) | p50 ms | p99 ms |');
console.log('|---|---|---|---|---|');
for (const row of rows) {
  const { rps = 0, p50 = 0, p99 = 0 } = row.stats;
  console.log(
    `| ${row.arm} | ${Math.round(rps * SECONDS)} | ${row.lost} | ${p50.toFixed(1)} | ${p99.toFixed(1)} |`,
  );
}
const fallback = rows[0];
console.log(
  `\nrequests lost with a compliant fallback: ${fallback?.lost} (goal 0: ${fallback?.lost === 0 ? 'met' : 'missed'})`,
);
process.exit(0);
