import { Module } from '@nestjs/common';
import {
  PostgresPools,
  FailSoftCache,
  TenantCache,
  TenantDailyTokens,
  TenantRequestLimiter,
  UsageLedger,
} from '@isogate/isolation';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { QuotaService } from './quota.service.js';
import { RequestQuota } from './request-quota.js';
import { UsageFlusher } from './usage-flusher.js';

/**
 * Per-tenant quotas: requests per minute on every tenant request (`RequestQuota`, applied by
 * the request pipeline), tokens per day for features (`QuotaService`), and daily usage written
 * to PostgreSQL in batches.
 */
@Module({
  providers: [
    {
      provide: FailSoftCache,
      inject: [APP_CONFIG, TenantCache],
      useFactory: (c: AppConfig, cache: TenantCache) =>
        new FailSoftCache({
          cache,
          commandTimeoutMs: c.quota.redisTimeoutMs,
          retryAfterMs: c.quota.redisRetryMs,
        }),
    },
    {
      provide: TenantRequestLimiter,
      inject: [FailSoftCache],
      useFactory: (store: FailSoftCache) => new TenantRequestLimiter(store),
    },
    {
      provide: TenantDailyTokens,
      inject: [FailSoftCache],
      useFactory: (store: FailSoftCache) => new TenantDailyTokens(store),
    },
    {
      provide: UsageLedger,
      inject: [PostgresPools],
      useFactory: (pools: PostgresPools) => new UsageLedger(pools),
    },
    RequestQuota,
    QuotaService,
    UsageFlusher,
  ],
  // FailSoftCache: the chat cache reaches Redis through the same timeout and circuit breaker.
  exports: [QuotaService, FailSoftCache, RequestQuota, UsageLedger],
})
export class QuotaModule {}
