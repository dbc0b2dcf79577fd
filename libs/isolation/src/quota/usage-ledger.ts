import type pg from 'pg';
import { TenantContext } from '../context/tenant-context.js';
import { inTransaction } from '../db/sql-session.js';
import { poolOf, type PostgresPools } from '../stores/postgres.pools.js';
import { utcDay } from './utc-day.js';

/** Requests and tokens of one tenant on one day, not yet written. */
interface PendingDay {
  requests: number;
  tokens: number;
  /** Per model and upstream (`model\nupstream`). */
  models: Map<string, ModelUsage>;
}

/** Tokens one model served through one upstream, and their cost in millionths of a dollar. */
export interface ModelUsage {
  readonly model: string;
  readonly upstream: string;
  tokensIn: number;
  tokensOut: number;
  costMicroUsd: number;
}

/** What one flush wrote, and what it has to try again. */
export interface UsageFlushResult {
  readonly tenants: number;
  readonly failed: number;
}

// The tenant's own row decides (through its row policy) whether usage may still be written: a
// tenant being deleted, or gone, gets no row back after its deletion removed its usage.
const UPSERT = `
  INSERT INTO usage_daily (tenant_id, day, requests, tokens)
  SELECT $1, u.day::date, u.requests, u.tokens
    FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS u(day, requests, tokens)
   WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $1 AND status <> 'deleting')
  ON CONFLICT (tenant_id, day) DO UPDATE
    SET requests = usage_daily.requests + EXCLUDED.requests,
        tokens = usage_daily.tokens + EXCLUDED.tokens`;

const UPSERT_MODELS = `
  INSERT INTO usage_model_daily (tenant_id, day, model, upstream, tokens_in, tokens_out, cost_micro_usd)
  SELECT $1, u.day::date, u.model, u.upstream, u.tokens_in, u.tokens_out, u.cost
    FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[])
      AS u(day, model, upstream, tokens_in, tokens_out, cost)
   WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $1 AND status <> 'deleting')
  ON CONFLICT (tenant_id, day, model, upstream) DO UPDATE
    SET tokens_in = usage_model_daily.tokens_in + EXCLUDED.tokens_in,
        tokens_out = usage_model_daily.tokens_out + EXCLUDED.tokens_out,
        cost_micro_usd = usage_model_daily.cost_micro_usd + EXCLUDED.cost_micro_usd`;

/** Tenants whose usage is written at the same time, each in its own transaction. */
const FLUSH_CONCURRENCY = 4;

/**
 * Daily usage per tenant (`usage_daily`), counted in memory on the request path and written in
 * batches by `flush`, so no request waits on a PostgreSQL transaction for it. Each tenant's
 * rows are written in a transaction scoped to that tenant (row-level security applies); a
 * tenant whose write fails keeps its counts for the next flush.
 */
export class UsageLedger {
  #pending = new Map<string, Map<string, PendingDay>>();
  #tail: Promise<unknown> = Promise.resolve();

  private readonly pool: pg.Pool;

  constructor(
    pools: PostgresPools,
    private readonly now: () => number = Date.now,
  ) {
    this.pool = poolOf(pools, 'gateway');
  }

  /** Counts one request of the current tenant, today. */
  recordRequest(): void {
    this.add(TenantContext.requireTenantId(), utcDay(this.now()), 1, 0);
  }

  /** Counts `tokens` used by the current tenant, today. */
  recordTokens(tokens: number): void {
    if (!Number.isSafeInteger(tokens) || tokens < 0) throw new RangeError('Invalid token count');
    if (tokens > 0) this.add(TenantContext.requireTenantId(), utcDay(this.now()), 0, tokens);
  }

  /**
   * Counts the tokens `model` served the current tenant today through `upstream`, and their
   * cost (millionths of a US dollar, from the catalog's prices).
   */
  recordModel(usage: ModelUsage): void {
    for (const n of [usage.tokensIn, usage.tokensOut, usage.costMicroUsd]) {
      if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('Invalid model usage');
    }
    const day = this.day(TenantContext.requireTenantId(), utcDay(this.now()));
    this.addModel(day, usage);
  }

  /**
   * Writes everything counted before this call. Flushes run one after another, so when the
   * returned promise settles, what was counted before the call is written or queued again.
   */
  flush(): Promise<UsageFlushResult> {
    const run = this.#tail.then(() => this.flushOnce());
    this.#tail = run.catch(() => undefined);
    return run;
  }

  private async flushOnce(): Promise<UsageFlushResult> {
    const batch = [...this.#pending];
    this.#pending = new Map();
    let failed = 0;
    for (let i = 0; i < batch.length; i += FLUSH_CONCURRENCY) {
      const slice = batch.slice(i, i + FLUSH_CONCURRENCY);
      const results = await Promise.allSettled(slice.map(([t, days]) => this.write(t, days)));
      results.forEach((result, index) => {
        const entry = slice[index];
        if (result.status === 'fulfilled' || entry === undefined) return;
        failed += 1;
        for (const [day, counts] of entry[1]) {
          this.add(entry[0], day, counts.requests, counts.tokens);
          const pending = this.day(entry[0], day);
          for (const usage of counts.models.values()) this.addModel(pending, usage);
        }
      });
    }
    return { tenants: batch.length, failed };
  }

  private async write(tenantId: string, days: Map<string, PendingDay>): Promise<void> {
    const rows = [...days];
    const models = rows.flatMap(([day, c]) => [...c.models.values()].map((m) => ({ day, m })));
    await inTransaction(this.pool, { tenantId }, async (session) => {
      await session.execute(UPSERT, [
        tenantId,
        rows.map(([day]) => day),
        rows.map(([, c]) => c.requests),
        rows.map(([, c]) => c.tokens),
      ]);
      if (models.length === 0) return;
      await session.execute(UPSERT_MODELS, [
        tenantId,
        models.map(({ day }) => day),
        models.map(({ m }) => m.model),
        models.map(({ m }) => m.upstream),
        models.map(({ m }) => m.tokensIn),
        models.map(({ m }) => m.tokensOut),
        models.map(({ m }) => m.costMicroUsd),
      ]);
    });
  }

  private add(tenantId: string, day: string, requests: number, tokens: number): void {
    const counts = this.day(tenantId, day);
    counts.requests += requests;
    counts.tokens += tokens;
  }

  /** The pending counts of `tenantId` on `day`, created empty when there are none. */
  private day(tenantId: string, day: string): PendingDay {
    let days = this.#pending.get(tenantId);
    if (days === undefined) {
      days = new Map();
      this.#pending.set(tenantId, days);
    }
    let counts = days.get(day);
    if (counts === undefined) {
      counts = { requests: 0, tokens: 0, models: new Map() };
      days.set(day, counts);
    }
    return counts;
  }

  private addModel(day: PendingDay, usage: ModelUsage): void {
    const key = `${usage.model}\n${usage.upstream}`;
    const known = day.models.get(key);
    if (known === undefined) {
      day.models.set(key, { ...usage });
      return;
    }
    known.tokensIn += usage.tokensIn;
    known.tokensOut += usage.tokensOut;
    known.costMicroUsd += usage.costMicroUsd;
  }
}
