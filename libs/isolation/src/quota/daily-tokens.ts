import { LRUCache } from 'lru-cache';
import { TenantContext } from '../context/tenant-context.js';
import { IsogateError } from '../errors/isogate-error.js';
import type { FailSoftCache } from '../cache/fail-soft-cache.js';
import { CHARGE_TOKENS } from './quota-scripts.js';
import { msUntilUtcDayEnds, utcDay } from './utc-day.js';

/** A day counter outlives its day by this much, so a process whose clock lags still finds it. */
const COUNTER_GRACE_MS = 86_400_000;

/** What this process knows of one tenant's day: Redis's last total, and charges not sent yet. */
interface DayTally {
  readonly day: string;
  known: number;
  unsynced: number;
}

/**
 * The current tenant's tokens used today (UTC), counted in Redis on the tenant's own keys
 * (`t:<tenant>:quota:tokens:<day>`) and shared by every gateway process. While Redis cannot be
 * used, this process counts on from the last total it saw, and sends what it counted meanwhile
 * with the next charge that reaches Redis.
 */
export class TenantDailyTokens {
  readonly #tallies: LRUCache<string, DayTally>;

  constructor(
    private readonly store: FailSoftCache,
    maxTenants = 10_000,
  ) {
    this.#tallies = new LRUCache<string, DayTally>({ max: maxTenants });
  }

  /** Tokens the current tenant used today. */
  async usedToday(): Promise<number> {
    const tally = this.tallyOf(TenantContext.requireTenantId());
    const stored = await this.store.attempt((cache) => cache.get(suffixOf(tally.day)));
    if (stored !== undefined) tally.known = Math.max(tally.known, Number(stored ?? 0) || 0);
    return tally.known + tally.unsynced;
  }

  /** Adds `tokens` to the current tenant's count for today; answers the new total. */
  async charge(tokens: number): Promise<number> {
    if (!Number.isSafeInteger(tokens) || tokens < 0) {
      throw new IsogateError('internal_error', 'Invalid token count');
    }
    const tally = this.tallyOf(TenantContext.requireTenantId());
    // What is sent is taken out of `unsynced` first, so two concurrent charges never send the
    // same tokens twice; a charge that does not reach Redis puts them back.
    const amount = tally.unsynced + tokens;
    tally.unsynced = 0;
    if (amount === 0) return tally.known;
    const ttlMs = msUntilUtcDayEnds(this.store.now()) + COUNTER_GRACE_MS;
    const total = await this.store.attempt((cache) =>
      cache.eval(CHARGE_TOKENS, [suffixOf(tally.day)], [amount, ttlMs]),
    );
    if (typeof total === 'number') tally.known = Math.max(tally.known, total);
    else tally.unsynced += amount;
    return tally.known + tally.unsynced;
  }

  private tallyOf(tenantId: string): DayTally {
    const day = utcDay(this.store.now());
    const current = this.#tallies.get(tenantId);
    if (current?.day === day) return current;
    const fresh: DayTally = { day, known: 0, unsynced: 0 };
    this.#tallies.set(tenantId, fresh);
    return fresh;
  }
}

const suffixOf = (day: string) => `quota:tokens:${day}`;
