import { Inject, Injectable } from '@nestjs/common';
import { TenantContext, TenantDb, type TenantQuotas } from '@isogate/isolation';
import { LRUCache } from 'lru-cache';

/** How long a tenant's quotas are trusted: a changed quota takes effect within this time. */
export const LIMITS_TTL_MS = 2_000;

interface Entry {
  readonly quotas: TenantQuotas;
  readonly expires: number;
}

/**
 * The current tenant's quotas, read from its own row (through its row policy) and cached for a
 * few seconds, so the request path does not open a PostgreSQL transaction every time. When
 * PostgreSQL cannot be read, the last known quotas still apply.
 */
@Injectable()
export class TenantLimits {
  readonly #entries = new LRUCache<string, Entry>({ max: 10_000 });
  readonly #loading = new Map<string, Promise<TenantQuotas>>();

  constructor(@Inject(TenantDb) private readonly db: TenantDb) {}

  /** The current tenant's quotas; an absent quota means no limit. */
  async current(): Promise<TenantQuotas> {
    const tenantId = TenantContext.requireTenantId();
    const cached = this.#entries.get(tenantId);
    if (cached !== undefined && cached.expires > Date.now()) return cached.quotas;
    try {
      return await this.load(tenantId);
    } catch (error) {
      if (cached !== undefined) return cached.quotas;
      throw error;
    }
  }

  /** One read per tenant at a time, however many requests wait for it. */
  private load(tenantId: string): Promise<TenantQuotas> {
    const pending = this.#loading.get(tenantId);
    if (pending !== undefined) return pending;
    const loading = this.read()
      .then((quotas) => {
        this.#entries.set(tenantId, { quotas, expires: Date.now() + LIMITS_TTL_MS });
        return quotas;
      })
      .finally(() => this.#loading.delete(tenantId));
    this.#loading.set(tenantId, loading);
    return loading;
  }

  private async read(): Promise<TenantQuotas> {
    // Row-level security shows the current tenant its own row only.
    const rows = await this.db.read<{ quotas: TenantQuotas }>('SELECT quotas FROM tenants');
    return rows[0]?.quotas ?? {};
  }
}
