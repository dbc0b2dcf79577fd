import { Inject, Injectable } from '@nestjs/common';
import { TenantDirectory } from '@isogate/isolation';

/** How long a tenant's status is trusted: a suspension takes effect within this time. */
export const STATUS_TTL_MS = 2_000;

/** The tenant's status, looked up per token and cached for a short while. */
@Injectable()
export class TenantStatusCache {
  readonly #entries = new Map<string, { status: string | undefined; expires: number }>();

  constructor(@Inject(TenantDirectory) private readonly directory: TenantDirectory) {}

  async status(tenantId: string): Promise<string | undefined> {
    const now = Date.now();
    const cached = this.#entries.get(tenantId);
    if (cached !== undefined && cached.expires > now) return cached.status;
    const status = await this.directory.status(tenantId);
    if (this.#entries.size > 10_000) this.#entries.clear();
    this.#entries.set(tenantId, { status, expires: now + STATUS_TTL_MS });
    return status;
  }

  /** Forgets a tenant at once, for changes made by this process. */
  forget(tenantId: string): void {
    this.#entries.delete(tenantId);
  }
}
