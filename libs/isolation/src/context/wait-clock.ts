import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';

const storage = new AsyncLocalStorage<WaitClock>();

/**
 * How long one request spent waiting on something outside the gateway (a store, the LLM, the
 * embeddings service), so that the gateway's own share of a request's time can be reported
 * (`x-gateway-overhead-ms`). Waits that overlap (two stores queried at once) count once: the
 * clock measures the wall time during which at least one wait was open.
 */
export class WaitClock {
  #open = 0;
  #since = 0;
  #waitedMs = 0;

  /** Runs `fn` with `clock` as the current request's clock. */
  static run<T>(clock: WaitClock, fn: () => T): T {
    return storage.run(clock, fn);
  }

  /** Runs `work`, counting the time until it settles as waiting (when a clock is open). */
  static async measure<T>(work: () => Promise<T>): Promise<T> {
    const clock = storage.getStore();
    if (clock === undefined) return work();
    return clock.measure(work);
  }

  /** Runs `work`, counting the time until it settles as waiting on this clock. */
  async measure<T>(work: () => Promise<T>): Promise<T> {
    if (this.#open++ === 0) this.#since = performance.now();
    try {
      return await work();
    } finally {
      if (--this.#open === 0) this.#waitedMs += performance.now() - this.#since;
    }
  }

  /** Milliseconds spent waiting so far (including a wait still open). */
  get waitedMs(): number {
    return this.#waitedMs + (this.#open > 0 ? performance.now() - this.#since : 0);
  }
}
