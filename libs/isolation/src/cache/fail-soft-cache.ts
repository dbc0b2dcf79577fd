import type { TenantCache } from './tenant-cache.js';
import { StoreUnavailableError } from '../errors/isogate-error.js';
import { StoreCircuit } from './store-circuit.js';

/** How quotas reach their shared store, and how long they wait for it. */
export interface FailSoftCacheOptions {
  /** The tenant's Redis keyspace, through the tenant's own ACL user. */
  readonly cache: TenantCache;
  /** A quota call that takes longer gives up and uses the per-process fallback. */
  readonly commandTimeoutMs: number;
  /** After a failure, how long the store is left alone before it is tried again. */
  readonly retryAfterMs: number;
  readonly now?: () => number;
}

class FailSoftCacheTimeout extends Error {}

/**
 * The shared quota state in Redis, reached through the current tenant's ACL user, with a short
 * timeout and a circuit breaker. `attempt` answers undefined when the store cannot be used (it
 * is down, slow, or being left alone after a failure): the caller then applies its
 * per-process fallback, so a request is never refused, nor held up, because Redis is away.
 */
export class FailSoftCache {
  readonly #circuit: StoreCircuit;
  readonly now: () => number;

  constructor(private readonly options: FailSoftCacheOptions) {
    this.now = options.now ?? Date.now;
    this.#circuit = new StoreCircuit(options.retryAfterMs, this.now);
  }

  /**
   * Runs `work` on the current tenant's keyspace; undefined when the store is unavailable. A
   * command the store refused (a gateway bug, never an outage) is thrown.
   */
  async attempt<T>(work: (cache: TenantCache) => Promise<T>): Promise<T | undefined> {
    if (!this.#circuit.tryAcquire()) return undefined;
    try {
      const result = await this.withTimeout(work(this.options.cache));
      this.#circuit.succeeded();
      return result;
    } catch (error) {
      if (error instanceof StoreUnavailableError || error instanceof FailSoftCacheTimeout) {
        this.#circuit.failed();
        return undefined;
      }
      this.#circuit.succeeded();
      throw error;
    }
  }

  private async withTimeout<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FailSoftCacheTimeout()), this.options.commandTimeoutMs);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
