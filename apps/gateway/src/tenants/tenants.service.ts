import { Inject, Injectable } from '@nestjs/common';
import { AuditScope } from '@isogate/audit';
import {
  ControlDb,
  IsogateError,
  TENANT_COLUMNS,
  TenantLifecycle,
  toTenantRecord,
  type DeletionReceipt,
  type TenantRecord,
  type TenantRow,
  utcDay,
} from '@isogate/isolation';
import { TenantStateCache } from '@isogate/isolation';
import type { CreateTenantBody, PatchTenantBody, UsageQuery } from './tenant.schemas.js';

/** One day of a tenant's usage. */
export interface UsageDay {
  day: string;
  requests: number;
  tokens: number;
}

/** The operator's view of its MSP's tenants. Every query runs under the MSP's row policy. */
@Injectable()
export class TenantsService {
  constructor(
    @Inject(ControlDb) private readonly db: ControlDb,
    @Inject(TenantLifecycle) private readonly lifecycle: TenantLifecycle,
    @Inject(TenantStateCache) private readonly statuses: TenantStateCache,
  ) {}

  async create(body: CreateTenantBody): Promise<TenantRecord> {
    const record = await this.lifecycle.create(body);
    this.statuses.forget(body.id);
    return record;
  }

  async list(): Promise<TenantRecord[]> {
    const rows = await this.db.mspTransaction((s) =>
      s.query<TenantRow>(`SELECT ${TENANT_COLUMNS} FROM tenants ORDER BY id`),
    );
    return rows.map(toTenantRecord);
  }

  async get(id: string): Promise<TenantRecord> {
    return this.db.tenantOfMspTransaction(id, async (s) => {
      const rows = await s.query<TenantRow>(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = $1`, [
        id,
      ]);
      return toTenantRecord(rows[0] as TenantRow);
    });
  }

  async update(id: string, body: PatchTenantBody): Promise<TenantRecord> {
    const record = await this.db.tenantOfMspTransaction(id, async (s) => {
      const current = await s.query<{ status: string }>(
        'SELECT status FROM tenants WHERE id = $1 FOR UPDATE',
        [id],
      );
      const status = current[0]?.status;
      if (body.status !== undefined && status !== 'active' && status !== 'suspended') {
        throw new IsogateError(
          'conflict',
          `The tenant is ${status ?? 'gone'}; its status cannot be changed now`,
        );
      }
      const rows = await s.query<TenantRow>(
        `UPDATE tenants SET
           status = COALESCE($2, status), name = COALESCE($3, name), quotas = COALESCE($4, quotas),
           retention_days = COALESCE($5, retention_days), pii = COALESCE($6, pii),
           pii_patterns = COALESCE($7, pii_patterns), updated_at = now()
         WHERE id = $1 RETURNING ${TENANT_COLUMNS}`,
        [
          id,
          body.status ?? null,
          body.name ?? null,
          body.quotas ?? null,
          body.retention_days ?? null,
          body.pii ?? null,
          body.pii_patterns === undefined ? null : JSON.stringify(body.pii_patterns),
        ],
      );
      return toTenantRecord(rows[0] as TenantRow);
    });
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
    const to = query.to ?? utcDay(Date.now());
    const from = query.from ?? utcDay(Date.parse(to) - 29 * 86_400_000);
    if (from > to) throw new IsogateError('invalid_request', 'from must not be after to');
    const rows = await this.db.tenantOfMspTransaction(id, (s) =>
      s.query<{ day: string; requests: string; tokens: string }>(
        `SELECT to_char(day, 'YYYY-MM-DD') AS day, requests, tokens FROM usage_daily
          WHERE tenant_id = $1 AND day BETWEEN $2::date AND $3::date ORDER BY day`,
        [id, from, to],
      ),
    );
    const data = rows.map((r) => ({
      day: r.day,
      requests: Number(r.requests),
      tokens: Number(r.tokens),
    }));
    return { tenant_id: id, from, to, data };
  }
}
