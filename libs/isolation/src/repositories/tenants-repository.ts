import { ControlDb } from '../db/tenant-db.js';
import { IsogateError } from '../errors/isogate-error.js';
import {
  TENANT_COLUMNS,
  toTenantRecord,
  type ModelPolicy,
  type PiiMode,
  type TenantQuotas,
  type TenantRecord,
  type TenantRow,
} from '../lifecycle/tenant-record.js';
import type { PostgresPools } from '../stores/postgres.pools.js';
import { usageDays, type DayRange, type UsageDay } from './usage-rows.js';

/** What an operator may change on a tenant; an absent field stays as it is. */
export interface TenantChanges {
  readonly status?: 'active' | 'suspended';
  readonly name?: string;
  readonly quotas?: TenantQuotas;
  readonly retention_days?: number;
  readonly pii?: PiiMode;
  readonly pii_patterns?: readonly string[];
  readonly images?: boolean;
  readonly policy?: ModelPolicy;
}

/**
 * The operator's view of the tenants of its MSP. The MSP comes from the context; every
 * statement runs under the MSP's row-level policy, so another MSP's tenant is not found,
 * exactly like one that does not exist.
 */
export class TenantsRepository {
  readonly #db: ControlDb;

  constructor(pools: PostgresPools) {
    this.#db = new ControlDb(pools);
  }

  /** Every tenant of the operator's MSP, by id. */
  async listOfMsp(): Promise<TenantRecord[]> {
    const rows = await this.#db.mspTransaction((s) =>
      s.query<TenantRow>(`SELECT ${TENANT_COLUMNS} FROM tenants ORDER BY id`),
    );
    return rows.map(toTenantRecord);
  }

  /** One tenant of the operator's MSP; `not_found` for any other id. */
  async findOfMsp(tenantId: string): Promise<TenantRecord> {
    return this.#db.tenantOfMspTransaction(tenantId, async (s) => {
      const rows = await s.query<TenantRow>(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = $1`, [
        tenantId,
      ]);
      return toTenantRecord(rows[0] as TenantRow);
    });
  }

  /**
   * Applies `changes` to a tenant of the operator's MSP. The status may change only between
   * `active` and `suspended`: the row is locked and its status checked in the same transaction,
   * so a creation or deletion in progress cannot be overtaken (`conflict`).
   */
  async change(tenantId: string, changes: TenantChanges): Promise<TenantRecord> {
    return this.#db.tenantOfMspTransaction(tenantId, async (s) => {
      const current = await s.query<{ status: string }>(
        'SELECT status FROM tenants WHERE id = $1 FOR UPDATE',
        [tenantId],
      );
      const status = current[0]?.status;
      if (changes.status !== undefined && status !== 'active' && status !== 'suspended') {
        throw new IsogateError(
          'conflict',
          `The tenant is ${status ?? 'gone'}; its status cannot be changed now`,
        );
      }
      const rows = await s.query<TenantRow>(
        `UPDATE tenants SET
           status = COALESCE($2, status), name = COALESCE($3, name), quotas = COALESCE($4, quotas),
           retention_days = COALESCE($5, retention_days), pii = COALESCE($6, pii),
           pii_patterns = COALESCE($7, pii_patterns), images = COALESCE($8, images),
           policy = COALESCE($9, policy), updated_at = now()
         WHERE id = $1 RETURNING ${TENANT_COLUMNS}`,
        [
          tenantId,
          changes.status ?? null,
          changes.name ?? null,
          changes.quotas ?? null,
          changes.retention_days ?? null,
          changes.pii ?? null,
          changes.pii_patterns === undefined ? null : JSON.stringify(changes.pii_patterns),
          changes.images ?? null,
          changes.policy ?? null,
        ],
      );
      return toTenantRecord(rows[0] as TenantRow);
    });
  }

  /** The daily usage of a tenant of the operator's MSP over `days`, oldest first. */
  async dailyUsage(tenantId: string, days: DayRange): Promise<UsageDay[]> {
    return this.#db.tenantOfMspTransaction(tenantId, (s) => usageDays(s, tenantId, days));
  }
}
