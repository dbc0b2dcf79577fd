import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import { fallbackReason } from './upstream-failure.js';

/** When a breaker opens and how long it stays open. */
export interface BreakerSettings {
  /** Consecutive fallback failures (timeout, 5xx, 429, connection) that open it (default 5). */
  readonly failures?: number;
  /** Milliseconds an open breaker waits before one probe call may test the upstream (10,000). */
  readonly cooldownMs?: number;
}

/** A breaker's state, as health checks and metrics name it. */
export type BreakerState = 'closed' | 'open' | 'half_open' | 'isolated';

const DEFAULT_FAILURES = 5;
const DEFAULT_COOLDOWN_MS = 10_000;

/** The breaker refused the call: the upstream was not called. */
export class BreakerOpen extends Error {
  constructor() {
    super('the breaker of this upstream is open');
    this.name = 'BreakerOpen';
  }
}

/**
 * One circuit breaker per upstream (cockatiel's ConsecutiveBreaker): `failures` consecutive
 * fallback failures open it; after `cooldownMs` the next call is a probe (half-open); the
 * probe's success closes it, its failure opens it again. Failures that are the request's
 * fault (4xx) or the caller's (it left) count for nothing.
 */
export class UpstreamBreakers {
  readonly #breakers = new Map<string, CircuitBreakerPolicy>();

  constructor(ids: Iterable<string>, settings: BreakerSettings = {}) {
    const failures = settings.failures ?? DEFAULT_FAILURES;
    const cooldownMs = settings.cooldownMs ?? DEFAULT_COOLDOWN_MS;
    if (!Number.isInteger(failures) || failures < 1) {
      throw new RangeError(`breaker failures must be a positive integer, got ${failures}`);
    }
    if (!Number.isFinite(cooldownMs) || cooldownMs < 0) {
      throw new RangeError(`breaker cooldownMs must not be negative, got ${cooldownMs}`);
    }
    for (const id of ids) {
      this.#breakers.set(
        id,
        circuitBreaker(
          handleWhen((error) => fallbackReason(error) !== undefined),
          { halfOpenAfter: cooldownMs, breaker: new ConsecutiveBreaker(failures) },
        ),
      );
    }
  }

  /** The state of upstream `id`'s breaker. */
  state(id: string): BreakerState {
    switch (this.of(id).state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.Open:
        return 'open';
      case CircuitState.HalfOpen:
        return 'half_open';
      case CircuitState.Isolated:
        return 'isolated';
    }
  }

  /**
   * `call` through upstream `id`'s breaker.
   * @throws BreakerOpen without calling when the breaker is open (cooling down) or a probe is
   * already in flight (cockatiel would make this call wait for the probe's outcome: the next
   * upstream answers sooner); otherwise whatever `call` throws.
   */
  async run<T>(id: string, call: () => Promise<T>): Promise<T> {
    const breaker = this.of(id);
    if (breaker.state === CircuitState.HalfOpen) throw new BreakerOpen();
    try {
      return await breaker.execute(call);
    } catch (error) {
      if (error instanceof BrokenCircuitError) throw new BreakerOpen();
      throw error;
    }
  }

  private of(id: string): CircuitBreakerPolicy {
    const breaker = this.#breakers.get(id);
    if (breaker === undefined) throw new Error(`no breaker for upstream "${id}"`);
    return breaker;
  }
}
