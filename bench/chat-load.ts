// The load generator of bench/chat, in its own process (the gateway under test runs in the
// parent's). Given one arm as JSON on argv, it runs one of:
// - rate: an open loop at a fixed rate (open-loop.ts), reporting latency from when each request
//   was due and the gateway's `x-gateway-overhead-ms` header. Not autocannon's `overallRate`:
//   that gives each connection a budget per second which it spends back to back as soon as the
//   second starts, so "200 requests/s" arrives as a burst of 32 concurrent requests at the top
//   of every second followed by silence, and what it measures is the queue of that burst.
// - max: autocannon, closed loop, 16 connections: the most the server completes per second.
// - probe: one request at a time, for sub-millisecond latency without load.
import autocannon from 'autocannon';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { openLoop } from './open-loop.js';
import { quantile } from './support.js';

/** What the parent asks for. */
export interface LoadArm {
  readonly mode: 'rate' | 'max' | 'probe';
  readonly url: string;
  readonly headers: Record<string, string>;
  /** The request's JSON body; a probe without one sends a GET. */
  readonly body?: unknown;
  readonly rate?: number;
  readonly seconds?: number;
  readonly requests?: number;
}

const arm = JSON.parse(process.argv[2] ?? '{}') as LoadArm;
/** Seconds of load before a fixed-rate run is measured. */
const WARM_UP_SECONDS = 2;

async function maxRate(seconds: number) {
  const result = await autocannon({
    url: arm.url,
    method: 'POST',
    headers: { ...arm.headers, 'content-type': 'application/json' },
    body: JSON.stringify(arm.body),
    connections: 16,
    duration: seconds,
  });
  return { rps: result.requests.average, non2xx: result.non2xx, errors: result.errors };
}

async function fixedRate(rate: number, seconds: number) {
  const url = new URL(arm.url);
  // Enough connections that the client never waits for one at this rate.
  const pool = new Pool(url.origin, { connections: 256 });
  const body = JSON.stringify(arm.body);
  const headers = { ...arm.headers, 'content-type': 'application/json' };
  const send = async () => {
    try {
      const response = await pool.request({ method: 'POST', path: url.pathname, headers, body });
      await response.body.text();
      const overhead = response.headers['x-gateway-overhead-ms'];
      return { status: response.statusCode, overhead: Number(overhead ?? NaN) };
    } catch {
      return { status: 0, overhead: NaN };
    }
  };
  const warmUp = await openLoop(send, rate, WARM_UP_SECONDS); // not reported
  const { timed, maxLagMs } = await openLoop(send, rate, seconds);
  await pool.close();
  const overhead = timed.map((t) => t.outcome.overhead).filter((o) => !Number.isNaN(o));
  const latency = timed.map((t) => t.latencyMs);
  return {
    p50: quantile(latency, 0.5),
    p99: quantile(latency, 0.99),
    rps: timed.length / seconds,
    non2xx: timed.filter((t) => t.outcome.status !== 0 && t.outcome.status !== 200).length,
    errors: timed.filter((t) => t.outcome.status === 0).length,
    overheadP50: quantile(overhead, 0.5),
    overheadP99: quantile(overhead, 0.99),
    clientLagMs: maxLagMs,
    // Every request sent, warm-up included: the parent divides the server's CPU time by it.
    sent: warmUp.timed.length + timed.length,
  };
}

async function probe(count: number) {
  const url = new URL(arm.url);
  const pool = new Pool(url.origin, { connections: 1 });
  const request =
    arm.body === undefined
      ? { method: 'GET' as const, path: url.pathname, headers: arm.headers }
      : {
          method: 'POST' as const,
          path: url.pathname,
          headers: { ...arm.headers, 'content-type': 'application/json' },
          body: JSON.stringify(arm.body),
        };
  const latencies: number[] = [];
  let failed = 0;
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const response = await pool.request(request);
    await response.body.text();
    if (i >= count / 10) latencies.push(performance.now() - start); // the first tenth warms up
    if (response.statusCode !== 200) failed++;
  }
  await pool.close();
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), failed };
}

async function run(): Promise<object> {
  const seconds = arm.seconds ?? 10;
  if (arm.mode === 'probe') return probe(arm.requests ?? 1_000);
  if (arm.mode === 'rate') return fixedRate(arm.rate ?? 200, seconds);
  await maxRate(2); // warm-up, not reported
  return maxRate(seconds);
}

const result = await run();
process.stdout.write(`${JSON.stringify(result)}\n`);
