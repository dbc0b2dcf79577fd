import {
  sendKind,
  type GatewayClient,
  type Outcome,
  type TenantFixture,
  type TrafficKind,
} from '../test/support/traffic.js';
import type { Timed } from './open-loop.js';
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

/** The n-th request of `traffic`. */
export function send(traffic: Traffic, n: number): Promise<Outcome> {
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

/** p50/p99 and errors per kind of request. */
export function perRoute(timed: readonly Timed<Outcome>[]) {
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
