import { Inject, Injectable } from '@nestjs/common';
import { TenantRequestLimiter, TenantStateCache, UsageLedger, type Role } from '@isogate/isolation';
import { rateLimited } from './quota-errors.js';

/**
 * Which bucket a caller draws from. Auditors alone have a bucket of their own at the same
 * rate: an application using up its requests must not lock compliance out of the audit trail,
 * and an export must not eat the application's requests. Any other tenant role shares `api`.
 */
export function bucketOf(roles: readonly Role[]): 'api' | 'audit' {
  return roles.length > 0 && roles.every((role) => role === 'auditor') ? 'audit' : 'api';
}

/** Admission of one request of the current tenant against its requests per minute. */
@Injectable()
export class RequestQuota {
  constructor(
    @Inject(TenantStateCache) private readonly states: TenantStateCache,
    @Inject(TenantRequestLimiter) private readonly limiter: TenantRequestLimiter,
    @Inject(UsageLedger) private readonly ledger: UsageLedger,
  ) {}

  /**
   * Takes one request from the current tenant's bucket, or throws `rate_limited` with the
   * seconds until one fits; an admitted request counts in the tenant's daily usage.
   */
  async admit(roles: readonly Role[]): Promise<void> {
    const { requests_per_minute: limit } = (await this.states.current())?.quotas ?? {};
    if (limit !== undefined) {
      const admission = await this.limiter.take(limit, bucketOf(roles));
      if (!admission.allowed) throw rateLimited(admission.retryAfterMs);
    }
    this.ledger.recordRequest();
  }
}
