// Load and soak: mixed traffic (retrieve, chat, ingest) of two tenants against a gateway that
// runs as its own process (so its resident memory is its own), with the test LLM server.
//   1. the maximum throughput of the mix (closed loop, --concurrency requests in flight);
//   2. an open loop at --rate requests/s (default: half that maximum) for --minutes, with
//      p50/p99 per route (latency counted from when each request was due), errors, answers
//      carrying another tenant's data, and the gateway's RSS sampled every 5 s.
//   npm run bench:load [-- --minutes 10 --rate 40 --mix retrieve=70,chat=20,ingest=10]
// Without a chat route in the gateway, chat leaves the mix (and the report says so).
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { startOpenAiServer } from '../test/support/openai-server.js';
import {
  createTenantFixture,
  GatewayClient,
  sendKind,
  type TenantFixture,
  type TrafficKind,
} from '../test/support/traffic.js';
import { startGatewayProcess } from './load-gateway.js';
import { maxThroughput, mixSequence, perRoute, send, type Traffic } from './load-run.js';
import { openLoop } from './open-loop.js';
import { benchSigner, quantile } from './support.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string' },
    mix: { type: 'string', default: 'retrieve=70,chat=20,ingest=10' },
    concurrency: { type: 'string', default: '16' },
    'probe-seconds': { type: 'string', default: '30' },
    docs: { type: 'string', default: '40' },
    'log-level': { type: 'string', default: 'info' },
  },
});
const weights = Object.fromEntries(
  values.mix.split(',').map((part) => {
    const [kind = '', weight = '0'] = part.split('=');
    return [kind.trim(), Number(weight)];
  }),
) as Partial<Record<TrafficKind, number>>;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const ms = (value: number) => `${value.toFixed(1)} ms`;

const llm = await startOpenAiServer({ keepRequests: false });
const gateway = await startGatewayProcess({
  LLM_BASE_URL: llm.url,
  LLM_MODEL: 'test-chat',
  LOG_LEVEL: values['log-level'],
});
const client = new GatewayClient(gateway.url, 256);
const sign = benchSigner('bench-load');
const operator = await sign({ msp_id: `load-${Date.now().toString(36)}`, roles: ['operator'] });
const tenants: TenantFixture[] = [];
try {
  for (let i = 0; i < 2; i += 1) {
    tenants.push(
      await createTenantFixture(client, operator, sign, {
        prefix: 'load',
        docs: Number(values.docs),
      }),
    );
  }
  const probe = await sendKind(client, 'chat', tenants[0] as TenantFixture, tenants, 0);
  const chat = probe.code !== 'route_not_found';
  if (!chat) delete weights.chat;
  const traffic: Traffic = { client, tenants, sequence: mixSequence(weights) };
  console.log(
    `gateway pid ${gateway.pid}; mix ${JSON.stringify(weights)}${chat ? '' : ' (no chat route in this gateway: chat left out)'}`,
  );
  console.log(`load average at start: ${load()}`);

  const warm = await maxThroughput(traffic, Number(values.concurrency), 5);
  const max = await maxThroughput(
    traffic,
    Number(values.concurrency),
    Number(values['probe-seconds']),
  );
  const maxErrors = max.outcomes.filter((o) => o.status < 200 || o.status >= 300).length;
  console.log(
    `max throughput (closed loop, ${values.concurrency} in flight, ${values['probe-seconds']} s): ${max.rate.toFixed(1)} requests/s, ${maxErrors} errors (warm-up ${warm.rate.toFixed(1)}/s)`,
  );

  const rate =
    values.rate !== undefined ? Number(values.rate) : Math.max(1, Math.floor(max.rate / 2));
  const seconds = Number(values.minutes) * 60;
  const rss: { t: number; kib: number }[] = [];
  let nextSample = 0;
  console.log(
    `open loop: ${rate} requests/s for ${values.minutes} min (${((rate / max.rate) * 100).toFixed(0)} % of the measured maximum)`,
  );
  const { timed, maxLagMs } = await openLoop(
    (n) => send(traffic, n),
    rate,
    seconds,
    (elapsed) => {
      if (elapsed < nextSample) return;
      nextSample += 5;
      rss.push({ t: elapsed, kib: gateway.rssKiB() });
      if (rss.length % 12 === 1) {
        console.log(
          `  t=${elapsed.toFixed(0)} s  RSS ${(gateway.rssKiB() / 1024).toFixed(1)} MiB  load ${load()}`,
        );
      }
    },
  );
  rss.push({ t: seconds, kib: gateway.rssKiB() });

  console.log('\nper route (latency from when each request was due):');
  for (const row of perRoute(timed)) {
    console.log(
      `  ${row.kind.padEnd(9)} ${String(row.count).padStart(7)} requests  p50 ${ms(row.p50).padStart(9)}  p99 ${ms(row.p99).padStart(9)}  errors ${row.errors} ${row.errors ? JSON.stringify(row.byStatus) : ''}  wrong data ${row.wrongData}`,
    );
  }
  const all = timed.map((t) => t.latencyMs);
  const errors = timed.filter((t) => t.outcome.status < 200 || t.outcome.status >= 300).length;
  console.log(
    `  all       ${String(timed.length).padStart(7)} requests  p50 ${ms(quantile(all, 0.5)).padStart(9)}  p99 ${ms(quantile(all, 0.99)).padStart(9)}  errors ${errors}`,
  );
  console.log(`  scheduler lag (max): ${ms(maxLagMs)}`);

  const window = (from: number, to: number) => {
    const kib = rss.filter((s) => s.t >= from && s.t <= to).map((s) => s.kib);
    return kib.reduce((a, b) => a + b, 0) / Math.max(1, kib.length);
  };
  const first = window(0, Math.min(60, seconds / 4));
  const last = window(seconds - Math.min(60, seconds / 4), seconds);
  console.log(
    `\ngateway RSS: first minute ${(first / 1024).toFixed(1)} MiB, last minute ${(last / 1024).toFixed(1)} MiB, growth ${((last / first - 1) * 100).toFixed(1)} % (goal < 10 %)`,
  );
  console.log(
    `RSS every 30 s (MiB): ${rss
      .filter((_, i) => i % 6 === 0)
      .map((s) => (s.kib / 1024).toFixed(0))
      .join(' ')}`,
  );
  console.log(`load average at the end: ${load()}`);
} finally {
  for (const t of tenants) await client.send(operator, 'DELETE', `/v1/tenants/${t.id}`);
  await client.close();
  await gateway.stop();
  await llm.close();
}
