/** One request of an open loop: what it came back with, and its latency from when it was due. */
export interface Timed<T> {
  readonly outcome: T;
  readonly latencyMs: number;
  /** When it was due, in milliseconds from the start of the loop. */
  readonly dueAt: number;
}

/**
 * Open loop: the n-th request is sent when it is due (`n / rate` seconds after the start),
 * whatever the answers before it do, and its latency runs from that instant, so a slow server
 * cannot hide its queueing by slowing the client down (coordinated omission). `maxLagMs` is
 * how late the client itself ever sent a request; if it is large, the client was the
 * bottleneck and the figures say little. `onTick` is called about once a second.
 */
export async function openLoop<T>(
  send: (n: number) => Promise<T>,
  rate: number,
  seconds: number,
  onTick: (elapsedSeconds: number) => void = () => {},
): Promise<{ timed: Timed<T>[]; maxLagMs: number }> {
  const timed: Timed<T>[] = [];
  const inflight = new Set<Promise<void>>();
  const start = performance.now();
  const total = Math.floor(rate * seconds);
  let sent = 0;
  let maxLagMs = 0;
  let lastTick = 0;
  while (sent < total) {
    const now = performance.now();
    // Request n is due n / rate seconds after the start: those due by now are n <= elapsed * rate.
    const due = Math.min(total, Math.floor(((now - start) / 1_000) * rate) + 1);
    for (; sent < due; sent += 1) {
      const dueAt = start + (sent * 1_000) / rate;
      maxLagMs = Math.max(maxLagMs, now - dueAt);
      const job = send(sent).then((outcome) => {
        timed.push({ outcome, latencyMs: performance.now() - dueAt, dueAt: dueAt - start });
      });
      inflight.add(job);
      void job.finally(() => inflight.delete(job));
    }
    if (now - lastTick >= 1_000) {
      lastTick = now;
      onTick((now - start) / 1_000);
    }
    await new Promise((done) => setTimeout(done, 1));
  }
  await Promise.all(inflight);
  return { timed, maxLagMs };
}
