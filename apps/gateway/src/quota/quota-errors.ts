import { IsogateError, msUntilUtcDayEnds } from '@isogate/isolation';

/** Retry-After in whole seconds, at least 1 (a 0 would invite an immediate retry). */
const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** The tenant's request bucket is empty; one request fits again in `retryAfterMs`. */
export function rateLimited(retryAfterMs: number): IsogateError {
  const retryAfterSeconds = seconds(retryAfterMs);
  return new IsogateError(
    'rate_limited',
    `The tenant's requests per minute are used up; retry in ${retryAfterSeconds} s`,
    { retryAfterSeconds },
  );
}

/** The tenant used its tokens for today; they come back when the UTC day ends. */
export function tokenQuotaExceeded(nowMs: number): IsogateError {
  return new IsogateError(
    'token_quota_exceeded',
    "The tenant's tokens for today are used up; the quota resets at 00:00 UTC",
    { retryAfterSeconds: seconds(msUntilUtcDayEnds(nowMs)) },
  );
}
