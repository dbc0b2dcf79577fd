import { Inject, Injectable } from '@nestjs/common';
import {
  compilePiiPattern,
  TenantKeys,
  TenantStateCache,
  type PiiPolicy,
  type TenantState,
} from '@isogate/isolation';
import type { TenantPolicy } from '@isogate/models';
import { policyOf } from '../models/model-routing.js';

/** Documents a tenant may hold when its quotas name no limit. */
export const DEFAULT_MAX_DOCUMENTS = 1_000_000;
/** Bytes of title and text of one document when its quotas name no limit. */
export const DEFAULT_MAX_DOCUMENT_BYTES = 10 * 1024 * 1024;

/** What the data plane needs to know of the current tenant's own settings. */
export interface DocumentSettings {
  readonly pii: PiiPolicy;
  readonly maxDocuments: number;
  readonly maxDocumentBytes: number;
  /** Whether chat requests may carry image parts (the operator's choice; off by default). */
  readonly images: boolean;
  /** The model policy in force: the MSP's default with the tenant's own added to it. */
  readonly policy: TenantPolicy;
}

/**
 * The current tenant's PII rules and document limits, from the tenant state the edge already
 * read (`TenantStateCache`). Worked out once per cached state, not per request: the cache
 * hands out one state object until it reads the row again, so its patterns are compiled once
 * for all the requests it serves.
 */
@Injectable()
export class TenantSettings {
  readonly #byState = new WeakMap<TenantState, Promise<DocumentSettings>>();

  constructor(
    @Inject(TenantStateCache) private readonly states: TenantStateCache,
    @Inject(TenantKeys) private readonly keys: TenantKeys,
  ) {}

  /** The settings of the tenant in the current context. */
  async current(): Promise<DocumentSettings> {
    const state = await this.states.current();
    // A tenant gone since the edge checked it keeps the strictest default.
    if (state === undefined) return this.settingsOf(undefined);
    const known = this.#byState.get(state);
    if (known !== undefined) return known;
    const settings = this.settingsOf(state);
    this.#byState.set(state, settings);
    settings.catch(() => this.#byState.delete(state));
    return settings;
  }

  private async settingsOf(state: TenantState | undefined): Promise<DocumentSettings> {
    const mode = state?.pii ?? 'redact';
    const pii: PiiPolicy = {
      mode,
      patterns: (state?.piiPatterns ?? []).map(compilePiiPattern),
      ...(mode === 'pseudonymize' ? { pseudonymKey: await this.keys.subkey('pseudonym') } : {}),
    };
    return {
      pii,
      maxDocuments: state?.quotas.max_documents ?? DEFAULT_MAX_DOCUMENTS,
      maxDocumentBytes: state?.quotas.max_document_bytes ?? DEFAULT_MAX_DOCUMENT_BYTES,
      images: state?.images ?? false,
      policy: policyOf(state),
    };
  }
}
