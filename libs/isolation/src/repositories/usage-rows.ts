import type { SqlSession } from '../db/sql-session.js';

/** What one model served through one upstream on a day, and its cost in US dollars. */
export interface ModelUsageDay {
  readonly model: string;
  readonly upstream: string;
  readonly tokens_in: number;
  readonly tokens_out: number;
  readonly cost_usd: number;
}

/** One day of a tenant's usage, with its model usage. */
export interface UsageDay {
  readonly day: string;
  readonly requests: number;
  readonly tokens: number;
  readonly models: readonly ModelUsageDay[];
}

/** A range of UTC days, `YYYY-MM-DD`, both ends included. */
export interface DayRange {
  readonly from: string;
  readonly to: string;
}

/**
 * The daily usage of `tenantId` over `days`, oldest first, in `session` (whose row policy
 * decides whether the tenant's rows are visible: its own, or its operator's).
 */
export async function usageDays(
  session: SqlSession,
  tenantId: string,
  days: DayRange,
): Promise<UsageDay[]> {
  const totals = await session.query<{ day: string; requests: string; tokens: string }>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, requests, tokens FROM usage_daily
      WHERE tenant_id = $1 AND day BETWEEN $2::date AND $3::date ORDER BY day`,
    [tenantId, days.from, days.to],
  );
  const models = await session.query<{
    day: string;
    model: string;
    upstream: string;
    tokens_in: string;
    tokens_out: string;
    cost_micro_usd: string;
  }>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, model, upstream, tokens_in, tokens_out,
            cost_micro_usd
       FROM usage_model_daily
      WHERE tenant_id = $1 AND day BETWEEN $2::date AND $3::date ORDER BY day, model, upstream`,
    [tenantId, days.from, days.to],
  );
  return totals.map((r) => ({
    day: r.day,
    requests: Number(r.requests),
    tokens: Number(r.tokens),
    models: models
      .filter((m) => m.day === r.day)
      .map((m) => ({
        model: m.model,
        upstream: m.upstream,
        tokens_in: Number(m.tokens_in),
        tokens_out: Number(m.tokens_out),
        cost_usd: Number(m.cost_micro_usd) / 1_000_000,
      })),
  }));
}
