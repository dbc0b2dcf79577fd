// The load generator of bench/chat, in its own process (the gateway under test runs in the
// parent's). Given one arm as JSON on argv, it either runs autocannon at a fixed rate and
// reports latency and the gateway's `x-gateway-overhead-ms` header, or (probe) sends requests
// one at a time and reports sub-millisecond latency, which autocannon's histogram cannot.
import autocannon from 'autocannon';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

/** What the parent asks for. */
export interface LoadArm {
  readonly mode: 'rate' | 'max' | 'probe';
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: unknown;
  readonly rate?: number;
  readonly seconds?: number;
  readonly requests?: number;
}

const arm = JSON.parse(process.argv[2] ?? '{}') as LoadArm;
const quantile = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))] ??
  NaN;

async function cannon(seconds: number, rate?: number) {
  const overhead: number[] = [];
  const result = await autocannon({
    url: arm.url,
    method: 'POST',
    headers: { ...arm.headers, 'content-type': 'application/json' },
    body: JSON.stringify(arm.body),
    connections: rate === undefined ? 16 : 32,
    duration: seconds,
    ...(rate !== undefined ? { overallRate: rate } : {}),
    requests: [
      {
        onResponse: (
          _status: number,
          _body: string,
          _context: unknown,
          headers: Record<string, string>,
        ) => {
          const value = headers['x-gateway-overhead-ms'];
          if (value !== undefined) overhead.push(Number(value));
        },
      },
    ],
  } as autocannon.Options);
  return {
    p50: result.latency.p50,
    p99: result.latency.p99,
    mean: result.latency.mean,
    rps: result.requests.average,
    non2xx: result.non2xx,
    errors: result.errors,
    overheadP50: quantile(overhead, 0.5),
    overheadP99: quantile(overhead, 0.99),
  };
}

async function probe(count: number) {
  const url = new URL(arm.url);
  const pool = new Pool(url.origin, { connections: 1 });
  const body = JSON.stringify(arm.body);
  const latencies: number[] = [];
  let failed = 0;
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const response = await pool.request({
      method: 'POST',
      path: url.pathname,
      headers: { ...arm.headers, 'content-type': 'application/json' },
      body,
    });
    await response.body.text();
    if (i >= count / 10) latencies.push(performance.now() - start); // the first tenth warms up
    if (response.statusCode !== 200) failed++;
  }
  await pool.close();
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), failed };
}

if (arm.mode === 'probe') {
  process.stdout.write(`${JSON.stringify(await probe(arm.requests ?? 1_000))}\n`);
} else {
  await cannon(2, arm.rate); // warm-up, not reported
  process.stdout.write(
    `${JSON.stringify(await cannon(arm.seconds ?? 10, arm.mode === 'rate' ? arm.rate : undefined))}\n`,
  );
}
