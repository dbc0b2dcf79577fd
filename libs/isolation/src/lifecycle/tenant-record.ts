/** Per-tenant limits; absent means the gateway's default. */
export interface TenantQuotas {
  readonly requests_per_minute?: number;
  readonly tokens_per_day?: number;
  readonly max_documents?: number;
  readonly max_document_bytes?: number;
}

export type PiiMode = 'off' | 'redact' | 'pseudonymize';

/**
 * Which model upstreams may receive a tenant's prompts, passages and texts, as its operator set
 * it (validated at the API; the model layer interprets it). `{}`: the MSP's default applies.
 */
export interface ModelPolicy {
  readonly data_class?: string;
  readonly allowed_regions?: readonly string[];
  readonly require?: {
    readonly baa?: true;
    readonly zero_retention?: true;
    readonly certifications?: readonly string[];
  };
  readonly models?: readonly string[];
  readonly default_model?: string;
}
export type TenantStatus = 'provisioning' | 'active' | 'suspended' | 'deleting';

/** A tenant as the API shows it. */
export interface TenantRecord {
  readonly id: string;
  readonly name: string;
  readonly msp_id: string;
  readonly status: TenantStatus;
  readonly quotas: TenantQuotas;
  readonly retention_days: number;
  readonly pii: PiiMode;
  /** The tenant's own identifier patterns, replaced like other PII. */
  readonly pii_patterns: readonly string[];
  /** Whether chat requests may carry image parts (passed to the model, recorded by hash). */
  readonly images: boolean;
  /** The tenant's own model policy (its MSP's default policy applies as well). */
  readonly policy: ModelPolicy;
  /**
   * The embeddings model the tenant's dense vectors come from; null for a tenant created before
   * models were chosen per tenant, whose vectors come from the gateway's default model.
   */
  readonly embeddings_model: string | null;
  readonly created_at: string;
}

/** What an operator asks for when creating a tenant. */
export interface NewTenant {
  readonly id: string;
  readonly name: string;
  readonly quotas?: TenantQuotas;
  readonly retention_days?: number;
  readonly pii?: PiiMode;
  readonly pii_patterns?: readonly string[];
  readonly images?: boolean;
  readonly policy?: ModelPolicy;
  /** The embeddings model the tenant's vectors will come from, and their length. */
  readonly embeddings?: { readonly model: string; readonly dimensions: number | undefined };
}

/** Row shape of `tenants` as PostgreSQL returns it. */
export interface TenantRow {
  id: string;
  name: string;
  msp_id: string;
  status: TenantStatus;
  quotas: TenantQuotas;
  retention_days: number;
  pii: PiiMode;
  pii_patterns: string[];
  images: boolean;
  policy: ModelPolicy;
  embeddings_model: string | null;
  created_at: Date;
}

export const TENANT_COLUMNS =
  'id, name, msp_id, status, quotas, retention_days, pii, pii_patterns, images, policy, embeddings_model, created_at';

export function toTenantRecord(row: TenantRow): TenantRecord {
  return {
    id: row.id,
    name: row.name,
    msp_id: row.msp_id,
    status: row.status,
    quotas: row.quotas,
    retention_days: row.retention_days,
    pii: row.pii,
    pii_patterns: row.pii_patterns,
    images: row.images,
    policy: row.policy,
    embeddings_model: row.embeddings_model,
    created_at: row.created_at.toISOString(),
  };
}

/** Counts of what deletion removed, per store. */
export interface PurgeCounts {
  readonly qdrant: { readonly points: number };
  readonly falkordb: { readonly nodes: number };
  readonly redis: { readonly keys: number };
}

/** One generation of a tenant's vectors: its collection, and the length of its dense vectors. */
export interface VectorSpace {
  readonly generation: number;
  /** Undefined: no dense vector (BM25 only). */
  readonly dimensions: number | undefined;
}

/** The stores other than PostgreSQL, as provisioning sees them. Each step is idempotent. */
export interface StoreProvisioning {
  ensureVectors(tenantId: string, space?: VectorSpace): Promise<void>;
  ensureGraphUser(tenantId: string): Promise<void>;
  ensureCacheUser(tenantId: string): Promise<void>;
  purge(tenantId: string): Promise<PurgeCounts>;
}

/** The receipt a deletion answers with. */
export interface DeletionReceipt {
  readonly tenant_id: string;
  readonly deleted_at: string;
  readonly stores: PurgeCounts & {
    readonly postgres: {
      readonly documents: number;
      readonly interactions: number;
      readonly keys: number;
    };
  };
  readonly audit_event_id: string | null;
}
