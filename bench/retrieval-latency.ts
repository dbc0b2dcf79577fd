// Retrieve latency through the gateway against the same query sent directly to Qdrant, with
// autocannon. The load generator runs in a worker thread: the gateway runs in this process,
// and a generator on the same event loop would slow the very thing it measures.
import autocannon from 'autocannon';

/** One autocannon run: what the table prints. */
export interface LatencyResult {
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
  readonly rps: number;
  readonly non2xx: number;
  readonly errors: number;
}

/** A target of the latency run: a POST with a JSON body. */
export interface LatencyTarget {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

/** Runs autocannon against `target` for `seconds` at `connections` connections. */
export async function measure(
  target: LatencyTarget,
  connections: number,
  seconds: number,
): Promise<LatencyResult> {
  const result = await autocannon({
    url: target.url,
    method: 'POST',
    headers: { ...target.headers, 'content-type': 'application/json' },
    body: JSON.stringify(target.body),
    connections,
    duration: seconds,
    workers: 1,
  });
  // autocannon's percentiles are whole milliseconds; the mean keeps the fraction.
  return {
    mean: result.latency.mean,
    p50: result.latency.p50,
    p99: result.latency.p99,
    rps: result.requests.average,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}
