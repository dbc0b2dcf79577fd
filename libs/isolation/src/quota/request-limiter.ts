import { TenantContext } from '../context/tenant-context.js';
import { IsogateError } from '../errors/isogate-error.js';
import type { FailSoftCache } from '../cache/fail-soft-cache.js';
import { TAKE_REQUEST } from './quota-scripts.js';
import { LocalBuckets, type BucketDecision } from './token-bucket.js';

/** The answer for one request: admitted or not (from the shared bucket, or this process's). */
export type RequestAdmission = BucketDecision;

/** A bucket name: one tenant may have several (say, API callers and auditors). */
const BUCKET_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * The current tenant's requests-per-minute token bucket: one atomic Lua script on the tenant's
 * own Redis keys (`t:<tenant>:quota:rpm:<bucket>`), shared by every gateway process. When Redis
 * cannot be used, a bucket of the same rate in this process decides instead (bounded LRU).
 */
export class TenantRequestLimiter {
  readonly #local: LocalBuckets;

  constructor(
    private readonly store: FailSoftCache,
    maxLocalBuckets = 10_000,
  ) {
    this.#local = new LocalBuckets(maxLocalBuckets);
  }

  /** Takes one request from the current tenant's bucket `bucket` of `limitPerMinute`. */
  async take(limitPerMinute: number, bucket = 'api'): Promise<RequestAdmission> {
    const tenantId = TenantContext.requireTenantId();
    if (!Number.isSafeInteger(limitPerMinute) || limitPerMinute < 1 || !BUCKET_NAME.test(bucket)) {
      throw new IsogateError('internal_error', 'Invalid request quota');
    }
    const now = this.store.now();
    const reply = await this.store.attempt((cache) =>
      cache.eval(TAKE_REQUEST, [`quota:rpm:${bucket}`], [limitPerMinute, now]),
    );
    if (reply !== undefined) return decisionOf(reply);
    return this.#local.take(`${tenantId}/${bucket}`, limitPerMinute, now);
  }
}

function decisionOf(reply: unknown): BucketDecision {
  const [allowed, retryAfterMs, remaining] = Array.isArray(reply) ? (reply as unknown[]) : [];
  if (
    typeof allowed !== 'number' ||
    typeof retryAfterMs !== 'number' ||
    typeof remaining !== 'number'
  ) {
    throw new IsogateError('internal_error', 'The quota store answered unexpectedly');
  }
  return { allowed: allowed === 1, retryAfterMs, remaining };
}
