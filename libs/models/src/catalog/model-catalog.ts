/** The upstream kinds, in the order error messages list them. */
export const UPSTREAM_KINDS = ['openai', 'azure-openai', 'openai-compatible'] as const;

/** The wire protocol dialect of an upstream: OpenAI, Azure OpenAI, or a compatible server. */
export type UpstreamKind = (typeof UPSTREAM_KINDS)[number];

/** What an upstream or a logical model does. */
export type ModelPurpose = 'chat' | 'embeddings';

/**
 * What a tenant policy can require of an upstream. Absent from the catalog, each takes its
 * least compliant value (region `unknown`, no BAA, provider-side retention, no certification).
 */
export interface UpstreamAttributes {
  readonly region: string;
  /** A Business Associate Agreement (HIPAA) covers what is sent to it. */
  readonly baa: boolean;
  /** The provider keeps neither prompts nor answers (no abuse-monitoring retention either). */
  readonly zeroRetention: boolean;
  /** Lower-case names, e.g. `hipaa`, `soc2`, `pci-dss`, `iso27001`. */
  readonly certifications: readonly string[];
}

/** One endpoint serving one model. Its key is held by the catalog, never by this object. */
export interface Upstream extends UpstreamAttributes {
  readonly id: string;
  readonly kind: UpstreamKind;
  readonly purpose: ModelPurpose;
  /** Base URL including the API prefix (for Azure, the resource's `/openai` URL). */
  readonly baseUrl: string;
  /** The model name the upstream is sent. */
  readonly model: string;
  /** Azure OpenAI only: the deployment and API version. */
  readonly azure?: { readonly deployment: string; readonly apiVersion: string };
  /** USD per million tokens, when known. */
  readonly price?: { readonly inputPerMtok: number; readonly outputPerMtok: number };
  /** Chat only: the context window in tokens. */
  readonly contextTokens?: number;
  /** Embeddings only: the vector length. */
  readonly dimensions?: number;
  /** Time limit per attempt. */
  readonly timeoutMs: number;
  /** Retries by the upstream's own client before the router falls back (default 0). */
  readonly maxRetries: number;
  readonly rateLimit?: { readonly requestsPerMinute: number };
  /** Where the key came from; the key itself stays inside the catalog. */
  readonly keySource: 'env' | 'file' | 'none';
}

/** What clients name as `model`: upstreams tried in order. */
export interface LogicalModel {
  readonly name: string;
  readonly purpose: ModelPurpose;
  /** Upstream ids, in the order they are tried. */
  readonly upstreams: readonly string[];
  /** Chat: the smallest window of its upstreams, so a context fits whichever one answers. */
  readonly contextTokens?: number;
  /** Embeddings: the vector length every upstream of it returns. */
  readonly dimensions?: number;
}

// Kept out of the catalog object itself, so no toString, JSON or inspection of it (or of an
// error that carries it) can ever show a key.
const KEYS = new WeakMap<ModelCatalog, ReadonlyMap<string, string>>();

/**
 * The validated model catalog: upstreams and the logical models built on them. Built by
 * `loadCatalog` or `catalogFromEnvSettings`; immutable.
 */
export class ModelCatalog {
  readonly upstreams: readonly Upstream[];
  readonly models: readonly LogicalModel[];
  readonly #upstreams: ReadonlyMap<string, Upstream>;
  readonly #models: ReadonlyMap<string, LogicalModel>;

  constructor(
    upstreams: readonly Upstream[],
    models: readonly LogicalModel[],
    keys: ReadonlyMap<string, string>,
  ) {
    this.upstreams = Object.freeze(upstreams.map((upstream) => Object.freeze({ ...upstream })));
    this.models = Object.freeze(models.map((model) => Object.freeze({ ...model })));
    this.#upstreams = new Map(this.upstreams.map((upstream) => [upstream.id, upstream]));
    this.#models = new Map(this.models.map((model) => [model.name, model]));
    KEYS.set(this, new Map(keys));
    Object.freeze(this);
  }

  /** The upstream `id`, if the catalog has it. */
  upstream(id: string): Upstream | undefined {
    return this.#upstreams.get(id);
  }

  /** The logical model `name`, if the catalog has it. */
  model(name: string): LogicalModel | undefined {
    return this.#models.get(name);
  }
}

/** The key of upstream `id`, for the client that calls it; undefined when it has none. */
export function upstreamKey(catalog: ModelCatalog, id: string): string | undefined {
  return KEYS.get(catalog)?.get(id);
}
