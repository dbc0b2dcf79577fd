import { Inject, Injectable } from '@nestjs/common';
import {
  compilePiiPattern,
  TenantContext,
  TenantKeys,
  TenantStateCache,
  type CallerContext,
  type PiiPolicy,
} from '@isogate/isolation';

/** Documents a tenant may hold when its quotas name no limit. */
export const DEFAULT_MAX_DOCUMENTS = 1_000_000;
/** Bytes of title and text of one document when its quotas name no limit. */
export const DEFAULT_MAX_DOCUMENT_BYTES = 10 * 1024 * 1024;

/** What the data plane needs to know of the current tenant's own settings. */
export interface DocumentSettings {
  readonly pii: PiiPolicy;
  readonly maxDocuments: number;
  readonly maxDocumentBytes: number;
}

/**
 * The current tenant's PII rules and document limits, from the tenant state the edge already
 * read (`TenantStateCache`). Worked out once per request: the request's caller context is
 * created per request, so it keys them, and every step of one request (the chat, its
 * retrieval) applies the same rules, even if the tenant's row changes meanwhile.
 */
@Injectable()
export class TenantSettings {
  readonly #perRequest = new WeakMap<CallerContext, Promise<DocumentSettings>>();

  constructor(
    @Inject(TenantStateCache) private readonly states: TenantStateCache,
    @Inject(TenantKeys) private readonly keys: TenantKeys,
  ) {}

  /** The settings of the tenant in the current context. */
  current(): Promise<DocumentSettings> {
    const caller = TenantContext.require();
    const known = this.#perRequest.get(caller);
    if (known !== undefined) return known;
    const settings = this.load();
    this.#perRequest.set(caller, settings);
    settings.catch(() => this.#perRequest.delete(caller));
    return settings;
  }

  private async load(): Promise<DocumentSettings> {
    const state = await this.states.current();
    // A tenant gone since the edge checked it keeps the strictest default.
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
    };
  }
}
