import { Inject, Injectable } from '@nestjs/common';
import { AuditScope, canonicalJson, sha256Hex } from '@isogate/audit';
import {
  IsogateError,
  TenantLifecycle,
  TenantsRepository,
  type DeletionReceipt,
  type TenantRecord,
  type DayRange,
  type UsageDay,
  utcDay,
} from '@isogate/isolation';
import { TenantStateCache } from '@isogate/isolation';
import type { CreateTenantBody, PatchTenantBody, UsageQuery } from './tenant.schemas.js';

/** The operator's view of its MSP's tenants; the repository scopes every read to the MSP. */
@Injectable()
export class TenantsService {
  constructor(
    @Inject(TenantsRepository) private readonly tenants: TenantsRepository,
    @Inject(TenantLifecycle) private readonly lifecycle: TenantLifecycle,
    @Inject(TenantStateCache) private readonly statuses: TenantStateCache,
  ) {}

  async create(body: CreateTenantBody): Promise<TenantRecord> {
    const record = await this.lifecycle.create(body);
    this.statuses.forget(body.id);
    return record;
  }

  async list(): Promise<TenantRecord[]> {
    return this.tenants.listOfMsp();
  }

  async get(id: string): Promise<TenantRecord> {
    return this.tenants.findOfMsp(id);
  }

  async update(id: string, body: PatchTenantBody): Promise<TenantRecord> {
    const record = await this.tenants.change(id, body);
    if (body.policy !== undefined) {
      AuditScope.annotate({ policy_sha256: sha256Hex(canonicalJson(record.policy)) });
    }
    this.statuses.forget(id);
    return record;
  }

  async delete(id: string): Promise<DeletionReceipt> {
    // The receipt names the audit event this very request is recorded as (written before the
    // answer is sent; if it cannot be, the answer is a 503 and the receipt is never seen).
    const receipt = await this.lifecycle.delete(id, AuditScope.current()?.eventId ?? null);
    this.statuses.forget(id);
    return receipt;
  }

  async usage(
    id: string,
    query: UsageQuery,
  ): Promise<{ tenant_id: string; from: string; to: string; data: UsageDay[] }> {
    const range = usageRange(query);
    const data = await this.tenants.dailyUsage(id, range);
    return { tenant_id: id, ...range, data };
  }
}

/** The days a usage query asks for: the 30 days up to `to` (today) unless `from` is given. */
export function usageRange(query: UsageQuery): DayRange {
  const to = query.to ?? utcDay(Date.now());
  const from = query.from ?? utcDay(Date.parse(to) - 29 * 86_400_000);
  if (from > to) throw new IsogateError('invalid_request', 'from must not be after to');
  return { from, to };
}
