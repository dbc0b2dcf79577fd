import { IsogateError } from '../errors/isogate-error.js';
import { ControlDb, type ControlTransactions, type SqlSession } from '../db/tenant-db.js';
import type { PostgresPools } from '../stores/postgres.pools.js';
import type { MasterKey } from '../keys/master-key.js';
import { TenantContext } from '../context/tenant-context.js';
import {
  TENANT_COLUMNS,
  toTenantRecord,
  type DeletionReceipt,
  type NewTenant,
  type StoreProvisioning,
  type TenantRecord,
  type TenantRow,
} from './tenant-record.js';

/** The provisioning steps, in order. The tenant becomes `active` only after the last one. */
export const PROVISIONING_STEPS = [
  'postgres',
  'data_key',
  'qdrant',
  'falkordb',
  'redis',
  'activate',
] as const;
export type ProvisioningStep = (typeof PROVISIONING_STEPS)[number];

/** Test seam: called after each completed step (a test throws here to inject a failure). */
export type AfterStep = (step: ProvisioningStep, tenantId: string) => void | Promise<void>;

/**
 * Creates and deletes tenants across all four stores, for the operator of the current context.
 * Every step is idempotent, so a creation that failed part-way is completed by the same
 * request sent again; until then the tenant stays `provisioning` and no token of it works.
 */
export class TenantLifecycle {
  readonly #db: ControlDb;

  constructor(
    pools: PostgresPools,
    private readonly masterKey: MasterKey,
    private readonly stores: StoreProvisioning,
    private readonly afterStep: AfterStep = () => undefined,
  ) {
    this.#db = new ControlDb(pools);
  }

  /**
   * Provisions `tenant` under the caller's MSP; 409 `tenant_exists` when the id is taken, already
   * active, or being created or deleted by another request at this moment (which answers at
   * once: only one request works on an id at a time, and none waits for another).
   */
  async create(tenant: NewTenant): Promise<TenantRecord> {
    return this.#db.exclusively(
      lockName(tenant.id),
      (db) => this.provision(db, tenant),
      async () => {
        throw taken(tenant.id);
      },
    );
  }

  /**
   * Removes the tenant from every store and destroys its data key; the audit trail stays. 409
   * `conflict` while another request creates or deletes it (404 when it is not the MSP's).
   */
  async delete(tenantId: string, auditEventId: string | null = null): Promise<DeletionReceipt> {
    return this.#db.exclusively(
      lockName(tenantId),
      (db) => this.purge(db, tenantId, auditEventId),
      // The lock is per id across MSPs: the ownership check keeps another MSP's busy tenant a 404.
      () =>
        this.#db.tenantOfMspTransaction(tenantId, async () => {
          throw new IsogateError('conflict', 'The tenant is being changed by another request');
        }),
    );
  }

  private async provision(db: ControlTransactions, tenant: NewTenant): Promise<TenantRecord> {
    await this.step('postgres', tenant.id, () => db.mspTransaction((s) => this.claim(s, tenant)));
    await this.step('data_key', tenant.id, () =>
      db.tenantOfMspTransaction(tenant.id, (s) => this.ensureDataKey(s, tenant.id)),
    );
    await this.step('qdrant', tenant.id, () =>
      this.stores.ensureVectors(
        tenant.id,
        tenant.embeddings === undefined
          ? undefined
          : { generation: 0, dimensions: tenant.embeddings.dimensions },
      ),
    );
    await this.step('falkordb', tenant.id, () => this.stores.ensureGraphUser(tenant.id));
    await this.step('redis', tenant.id, () => this.stores.ensureCacheUser(tenant.id));
    return this.step('activate', tenant.id, () =>
      db.tenantOfMspTransaction(tenant.id, async (s) => {
        const rows = await s.query<TenantRow>(
          `UPDATE tenants SET status = 'active', updated_at = now() WHERE id = $1 RETURNING ${TENANT_COLUMNS}`,
          [tenant.id],
        );
        return toTenantRecord(rows[0] as TenantRow);
      }),
    );
  }

  private async purge(
    db: ControlTransactions,
    tenantId: string,
    auditEventId: string | null,
  ): Promise<DeletionReceipt> {
    await db.tenantOfMspTransaction(tenantId, (s) =>
      s.execute(`UPDATE tenants SET status = 'deleting', updated_at = now() WHERE id = $1`, [
        tenantId,
      ]),
    );
    const purged = await this.stores.purge(tenantId);
    const postgres = await db.tenantOfMspTransaction(tenantId, (s) => this.deleteRows(s, tenantId));
    return {
      tenant_id: tenantId,
      deleted_at: new Date().toISOString(),
      stores: { postgres, ...purged },
      audit_event_id: auditEventId,
    };
  }

  private async claim(session: SqlSession, tenant: NewTenant): Promise<void> {
    const mspId = (TenantContext.require() as { mspId: string }).mspId;
    await session.execute(
      `INSERT INTO tenants (id, msp_id, name, quotas, retention_days, pii, pii_patterns, images, policy,
                            embeddings_model)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`,
      [
        tenant.id,
        mspId,
        tenant.name,
        tenant.quotas ?? {},
        tenant.retention_days ?? 2190,
        tenant.pii ?? 'redact',
        JSON.stringify(tenant.pii_patterns ?? []),
        tenant.images ?? false,
        tenant.policy ?? {},
        tenant.embeddings?.model ?? null,
      ],
    );
    // Row-level security hides another MSP's tenant, so "not visible" means "taken elsewhere":
    // the answer is the same 409 either way and never says by whom.
    const rows = await session.query<{ status: string }>(
      'SELECT status FROM tenants WHERE id = $1',
      [tenant.id],
    );
    if (rows[0]?.status !== 'provisioning') throw taken(tenant.id);
  }

  private async ensureDataKey(session: SqlSession, tenantId: string): Promise<void> {
    const existing = await session.query('SELECT 1 FROM tenant_keys WHERE tenant_id = $1', [
      tenantId,
    ]);
    if (existing.length === 0) {
      const { wrapped } = this.masterKey.newDataKey(tenantId);
      await session.execute(
        'INSERT INTO tenant_keys (tenant_id, version, wrapped_key) VALUES ($1, 1, $2)',
        [tenantId, wrapped],
      );
    }
    await session.execute(
      'INSERT INTO corpus_versions (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING',
      [tenantId],
    );
  }

  private async deleteRows(session: SqlSession, tenantId: string) {
    const documents = await session.execute('DELETE FROM documents WHERE tenant_id = $1', [
      tenantId,
    ]);
    const interactions = await session.execute('DELETE FROM interactions WHERE tenant_id = $1', [
      tenantId,
    ]);
    await session.execute('DELETE FROM usage_daily WHERE tenant_id = $1', [tenantId]);
    await session.execute('DELETE FROM usage_model_daily WHERE tenant_id = $1', [tenantId]);
    await session.execute('DELETE FROM corpus_versions WHERE tenant_id = $1', [tenantId]);
    await session.execute('DELETE FROM reembeds WHERE tenant_id = $1', [tenantId]);
    const keys = await session.execute('DELETE FROM tenant_keys WHERE tenant_id = $1', [tenantId]);
    await session.execute('DELETE FROM tenants WHERE id = $1', [tenantId]);
    return { documents, interactions, keys };
  }

  private async step<T>(
    step: ProvisioningStep,
    tenantId: string,
    work: () => Promise<T>,
  ): Promise<T> {
    const result = await work();
    await this.afterStep(step, tenantId);
    return result;
  }
}

/** The advisory lock of one tenant id: creation and deletion of an id never overlap. */
function lockName(tenantId: string): string {
  return `isogate:tenant:${tenantId}`;
}

/** The one answer to a taken id, whoever holds it: it never says by whom. */
function taken(tenantId: string): IsogateError {
  return new IsogateError('tenant_exists', `A tenant with id "${tenantId}" already exists`);
}
