import { TenantContext } from '../context/tenant-context.js';
import type { TenantDb } from '../db/tenant-db.js';
import { usageDays, type DayRange, type UsageDay } from './usage-rows.js';

/** The current tenant's own usage, through its row-level policy only. */
export class UsageRepository {
  constructor(private readonly db: TenantDb) {}

  /** The current tenant's daily usage over `days`, oldest first, with its model usage. */
  async ofTenant(days: DayRange): Promise<UsageDay[]> {
    const tenantId = TenantContext.requireTenantId();
    return this.db.transaction((s) => usageDays(s, tenantId, days));
  }
}
