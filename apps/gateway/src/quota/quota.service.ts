import { Inject, Injectable } from '@nestjs/common';
import {
  FailSoftCache,
  TenantDailyTokens,
  TenantStateCache,
  UsageLedger,
} from '@isogate/isolation';
import { tokenQuotaExceeded } from './quota-errors.js';

/**
 * The current tenant's daily token quota (`tokens_per_day`), for features that spend model
 * tokens (chat). Both methods read the tenant from the context.
 */
@Injectable()
export class QuotaService {
  constructor(
    @Inject(TenantStateCache) private readonly states: TenantStateCache,
    @Inject(TenantDailyTokens) private readonly tokens: TenantDailyTokens,
    @Inject(UsageLedger) private readonly ledger: UsageLedger,
    @Inject(FailSoftCache) private readonly store: FailSoftCache,
  ) {}

  /**
   * Throws `token_quota_exceeded` (429, Retry-After = seconds until the UTC day ends) when the
   * current tenant has used up today's `tokens_per_day`; a tenant without one has no limit.
   */
  async assertTokensAvailable(): Promise<void> {
    const { tokens_per_day: limit } = (await this.states.current())?.quotas ?? {};
    if (limit === undefined) return;
    if ((await this.tokens.usedToday()) >= limit) throw tokenQuotaExceeded(this.store.now());
  }

  /**
   * Adds `tokens` (a non-negative integer) used by the current request to today's count in
   * Redis, atomically, and to the tenant's daily usage in PostgreSQL (written in batches).
   */
  async chargeTokens(tokens: number): Promise<void> {
    this.ledger.recordTokens(tokens);
    await this.tokens.charge(tokens);
  }
}
