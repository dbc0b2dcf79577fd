import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import {
  compilePiiPattern,
  TenantContext,
  TenantDb,
  TenantKeys,
  type PiiMode,
  type PiiPolicy,
  type TenantQuotas,
} from '@isogate/isolation';

/** Documents a tenant may hold when its quotas name no limit. */
export const DEFAULT_MAX_DOCUMENTS = 1_000_000;
/** Bytes of title and text of one document when its quotas name no limit. */
export const DEFAULT_MAX_DOCUMENT_BYTES = 10 * 1024 * 1024;

/** How long a tenant's settings are reused: a change applies within this time. */
const SETTINGS_TTL_MS = 2_000;

/** What the data plane needs to know of the current tenant's own settings. */
export interface DocumentSettings {
  readonly pii: PiiPolicy;
  readonly maxDocuments: number;
  readonly maxDocumentBytes: number;
}

interface SettingsRow {
  pii: PiiMode;
  pii_patterns: string[];
  quotas: TenantQuotas;
}

/**
 * The current tenant's PII rules and document limits, read through row-level security (a
 * tenant sees its own row only) and kept for a couple of seconds.
 */
@Injectable()
export class TenantSettings {
  readonly #cache = new LRUCache<string, Promise<DocumentSettings>>({
    max: 10_000,
    ttl: SETTINGS_TTL_MS,
  });

  constructor(
    @Inject(TenantDb) private readonly db: TenantDb,
    @Inject(TenantKeys) private readonly keys: TenantKeys,
  ) {}

  /** The settings of the tenant in the current context. */
  current(): Promise<DocumentSettings> {
    const tenantId = TenantContext.requireTenantId();
    const cached = this.#cache.get(tenantId);
    if (cached !== undefined) return cached;
    const value = this.load();
    this.#cache.set(tenantId, value);
    value.catch(() => this.#cache.delete(tenantId));
    return value;
  }

  private async load(): Promise<DocumentSettings> {
    const rows = await this.db.read<SettingsRow>('SELECT pii, pii_patterns, quotas FROM tenants');
    const row = rows[0];
    const mode = row?.pii ?? 'redact';
    const pii: PiiPolicy = {
      mode,
      patterns: (row?.pii_patterns ?? []).map(compilePiiPattern),
      ...(mode === 'pseudonymize' ? { pseudonymKey: await this.keys.subkey('pseudonym') } : {}),
    };
    return {
      pii,
      maxDocuments: row?.quotas.max_documents ?? DEFAULT_MAX_DOCUMENTS,
      maxDocumentBytes: row?.quotas.max_document_bytes ?? DEFAULT_MAX_DOCUMENT_BYTES,
    };
  }
}
