import { LRUCache } from 'lru-cache';

/** A token bucket as stored: tokens left (fractional) and when they were counted. */
export interface BucketState {
  readonly tokens: number;
  readonly stampMs: number;
}

/** Whether one request may go ahead, and if not, when it could. */
export interface BucketDecision {
  readonly allowed: boolean;
  /** Milliseconds until one token is back (0 when allowed). */
  readonly retryAfterMs: number;
  /** Whole tokens left after this request. */
  readonly remaining: number;
}

/** Milliseconds to refill a bucket of `limitPerMinute` from empty: the limit is per minute. */
export const BUCKET_WINDOW_MS = 60_000;

/**
 * Takes one token from a bucket holding at most `limitPerMinute` tokens and refilled at
 * `limitPerMinute` per minute. The same arithmetic as the Redis script (`TAKE_REQUEST`), so a
 * process that falls back to its own buckets limits at the same rate. A clock that went back
 * (another process's stamp is ahead) refills nothing rather than a negative amount.
 */
export function takeFromBucket(
  state: BucketState | undefined,
  limitPerMinute: number,
  nowMs: number,
): { state: BucketState; decision: BucketDecision } {
  const rate = limitPerMinute / BUCKET_WINDOW_MS;
  let tokens = state?.tokens ?? limitPerMinute;
  let stampMs = state?.stampMs ?? nowMs;
  if (nowMs > stampMs) {
    tokens += (nowMs - stampMs) * rate;
    stampMs = nowMs;
  }
  tokens = Math.min(tokens, limitPerMinute);
  if (tokens >= 1) {
    const left = tokens - 1;
    return {
      state: { tokens: left, stampMs },
      decision: { allowed: true, retryAfterMs: 0, remaining: Math.floor(left) },
    };
  }
  return {
    state: { tokens, stampMs },
    decision: { allowed: false, retryAfterMs: Math.ceil((1 - tokens) / rate), remaining: 0 },
  };
}

/**
 * Token buckets kept in this process only, for when the shared store cannot be reached. Bounded:
 * the least recently used bucket is dropped, which at worst gives that tenant a full bucket.
 */
export class LocalBuckets {
  readonly #buckets: LRUCache<string, BucketState>;

  constructor(maxBuckets: number) {
    this.#buckets = new LRUCache<string, BucketState>({ max: maxBuckets });
  }

  /** Takes one token from the bucket `key`. */
  take(key: string, limitPerMinute: number, nowMs: number): BucketDecision {
    const { state, decision } = takeFromBucket(this.#buckets.get(key), limitPerMinute, nowMs);
    this.#buckets.set(key, state);
    return decision;
  }

  /** Buckets held. */
  get size(): number {
    return this.#buckets.size;
  }
}
