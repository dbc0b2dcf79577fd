import {
  sendKind,
  type GatewayClient,
  type Outcome,
  type TenantFixture,
  type TrafficKind,
} from '../test/support/traffic.js';
import { quantile } from './support.js';

/** Documents the ingest share rewrites in turn, so the corpus stays the same size over a soak. */
const INGEST_IDS = 500;

/**
 * The kinds of a mix (`{retrieve: 70, chat: 20, ingest: 10}`) as a repeating sequence in which
 * each kind is spread evenly (smooth weighted round robin), so any window has the mix's shares.
 */
export function mixSequence(
  weights: Readonly<Partial<Record<TrafficKind, number>>>,
): TrafficKind[] {
  const entries = Object.entries(weights).filter(([, w]) => (w ?? 0) > 0) as [
    TrafficKind,
    number,
  ][];
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  const current = new Map(entries.map(([kind]) => [kind, 0]));
  const sequence: TrafficKind[] = [];
  for (let i = 0; i < total; i += 1) {
    for (const [kind, weight] of entries) current.set(kind, (current.get(kind) ?? 0) + weight);
    const [best] = [...current.entries()].sort((a, b) => b[1] - a[1])[0] as [TrafficKind, number];
    current.set(best, (current.get(best) ?? 0) - total);
    sequence.push(best);
  }
  return sequence;
}

/** The traffic: which request the n-th one is. */
export interface Traffic {
  readonly client: GatewayClient;
  readonly tenants: readonly TenantFixture[];
  readonly sequence: readonly TrafficKind[];
}

function send(traffic: Traffic, n: number): Promise<Outcome> {
  const kind = traffic.sequence[n % traffic.sequence.length] as TrafficKind;
  const tenant = traffic.tenants[n % traffic.tenants.length] as TenantFixture;
  return sendKind(traffic.client, kind, tenant, traffic.tenants, n % INGEST_IDS);
}

/** Closed loop: `concurrency` requests in flight for `seconds`; completed requests per second. */
export async function maxThroughput(traffic: Traffic, concurrency: number, seconds: number) {
  const outcomes: Outcome[] = [];
  const end = performance.now() + seconds * 1_000;
  let n = 0;
  const worker = async () => {
    while (performance.now() < end) outcomes.push(await send(traffic, n++));
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1_000;
  return { rate: outcomes.length / elapsed, outcomes };
}

/** One request of the open loop: its outcome, and its latency from when it was due. */
export interface Timed {
  readonly outcome: Outcome;
  readonly latencyMs: number;
  readonly dueAt: number;
}

/**
 * Open loop: requests are sent at `rate` per second whatever the answers do, and each latency
 * runs from when the request was due (so a slow gateway cannot hide its queueing by slowing
 * the client down). `onTick` is called about once a second.
 */
export async function openLoop(
  traffic: Traffic,
  rate: number,
  seconds: number,
  onTick: (elapsedSeconds: number) => void,
): Promise<{ timed: Timed[]; maxLagMs: number }> {
  const timed: Timed[] = [];
  const inflight = new Set<Promise<void>>();
  const start = performance.now();
  const total = Math.floor(rate * seconds);
  let sent = 0;
  let maxLagMs = 0;
  let lastTick = 0;
  while (sent < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - start) / 1_000) * rate));
    for (; sent < due; sent += 1) {
      const dueAt = start + (sent * 1_000) / rate;
      maxLagMs = Math.max(maxLagMs, now - dueAt);
      const job = send(traffic, sent).then((outcome) => {
        timed.push({ outcome, latencyMs: performance.now() - dueAt, dueAt: dueAt - start });
      });
      inflight.add(job);
      void job.finally(() => inflight.delete(job));
    }
    if (now - lastTick >= 1_000) {
      lastTick = now;
      onTick((now - start) / 1_000);
    }
    await new Promise((done) => setTimeout(done, 2));
  }
  await Promise.all(inflight);
  return { timed, maxLagMs };
}

/** p50/p99 and errors per kind of request. */
export function perRoute(timed: readonly Timed[]) {
  const kinds = [...new Set(timed.map((t) => t.outcome.kind))];
  return kinds.map((kind) => {
    const mine = timed.filter((t) => t.outcome.kind === kind);
    const errors = mine.filter((t) => t.outcome.status < 200 || t.outcome.status >= 300);
    const byStatus: Record<string, number> = {};
    for (const e of errors) byStatus[e.outcome.status] = (byStatus[e.outcome.status] ?? 0) + 1;
    const latencies = mine.map((t) => t.latencyMs);
    return {
      kind,
      count: mine.length,
      errors: errors.length,
      byStatus,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      wrongData: mine.filter(
        (t) =>
          t.outcome.leak || (t.outcome.status >= 200 && t.outcome.status < 300 && !t.outcome.own),
      ).length,
    };
  });
}
