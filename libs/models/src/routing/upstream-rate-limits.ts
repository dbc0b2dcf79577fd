import type { Upstream } from '../catalog/model-catalog.js';

/** The period `requests_per_minute` is counted over. */
const MINUTE_MS = 60_000;

/** One upstream's allowance: whole and fractional calls left, and when they were counted. */
interface Bucket {
  readonly limit: number;
  tokens: number;
  stampMs: number;
}

/**
 * The catalog's `rate_limit.requests_per_minute` of each upstream, as a token bucket per
 * upstream: it holds at most the limit and refills continuously at the limit per minute, so a
 * used-up upstream is back one call at a time instead of all at once when a fixed window turns
 * over (the same arithmetic as the tenants' request quotas). Kept in this process's memory
 * only: the router consults it before every call, and a shared store on that path would put
 * a network round trip, and that store's failures, in front of every model request. With N
 * gateway processes an upstream can therefore receive up to N times its limit; the
 * provider's 429 beyond that is a reason to fall back all the same.
 */
export class UpstreamRateLimits {
  readonly #buckets = new Map<string, Bucket>();

  /** `now` is the clock in milliseconds (a fake one in tests). */
  constructor(
    upstreams: Iterable<Pick<Upstream, 'id' | 'rateLimit'>>,
    private readonly now: () => number = Date.now,
  ) {
    const stampMs = now();
    for (const { id, rateLimit } of upstreams) {
      if (rateLimit === undefined) continue;
      const limit = rateLimit.requestsPerMinute;
      if (!Number.isInteger(limit) || limit < 1) {
        throw new RangeError(`rate limit of "${id}" must be a positive integer, got ${limit}`);
      }
      this.#buckets.set(id, { limit, tokens: limit, stampMs });
    }
  }

  /**
   * Takes `requests` from upstream `id`'s allowance: false, taking nothing, when fewer are
   * left. More than the whole limit are taken as the limit (they wait for a full allowance and
   * use it up), or they could never be sent. An upstream without a limit always has them.
   */
  take(id: string, requests = 1): boolean {
    const bucket = this.#buckets.get(id);
    if (bucket === undefined) return true;
    this.refill(bucket);
    const needed = Math.min(requests, bucket.limit);
    if (bucket.tokens < needed) return false;
    bucket.tokens -= needed;
    return true;
  }

  /** Gives back what `take` granted for a call that was not made (its breaker refused it). */
  giveBack(id: string, requests = 1): void {
    const bucket = this.#buckets.get(id);
    if (bucket === undefined) return;
    bucket.tokens = Math.min(bucket.limit, bucket.tokens + Math.min(requests, bucket.limit));
  }

  private refill(bucket: Bucket): void {
    const nowMs = this.now();
    // A clock that went back refills nothing, rather than taking calls away.
    if (nowMs <= bucket.stampMs) return;
    const refilled = ((nowMs - bucket.stampMs) * bucket.limit) / MINUTE_MS;
    bucket.tokens = Math.min(bucket.limit, bucket.tokens + refilled);
    bucket.stampMs = nowMs;
  }
}
