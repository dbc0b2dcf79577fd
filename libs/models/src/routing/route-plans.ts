import { IsogateError } from '@isogate/isolation';
import { LRUCache } from 'lru-cache';
import type {
  LogicalModel,
  ModelCatalog,
  ModelPurpose,
  Upstream,
} from '../catalog/model-catalog.js';
import { compliantUpstreams, listed } from './compliance.js';
import { canonicalPolicy, versionOf, type TenantPolicy } from './tenant-policy.js';

/** The upstreams a request of one policy to one logical model may reach, in order. */
export interface RoutePlan {
  readonly model: LogicalModel;
  readonly policyVersion: string;
  readonly upstreams: readonly Upstream[];
}

const DEFAULT_CACHE_SIZE = 1_000;

/**
 * Compliance decisions per (policy, logical model), cached. The key is the policy's canonical
 * JSON itself, not its hash, so two policies can never share a decision; the hash (the
 * version for route records) is computed once per entry.
 */
export class RoutePlans {
  readonly #cache: LRUCache<string, RoutePlan>;

  constructor(
    private readonly catalog: ModelCatalog,
    cacheSize = DEFAULT_CACHE_SIZE,
  ) {
    this.#cache = new LRUCache({ max: cacheSize });
  }

  /**
   * The plan for `name` under `policy`.
   * @throws IsogateError `model_not_found` when the catalog has no logical model `name` of
   * `purpose`, or the policy's allow-list does not name it.
   */
  plan(name: string, purpose: ModelPurpose, policy: TenantPolicy): RoutePlan {
    const model = this.catalog.model(name);
    if (model === undefined || model.purpose !== purpose || !listed(policy, model)) {
      throw new IsogateError(
        'model_not_found',
        `The model "${name.slice(0, 200)}" is not offered; see GET /v1/models`,
      );
    }
    const canonical = canonicalPolicy(policy);
    const key = `${name}\n${canonical}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    const plan: RoutePlan = {
      model,
      policyVersion: versionOf(canonical),
      upstreams: Object.freeze(compliantUpstreams(this.catalog, name, policy)),
    };
    this.#cache.set(key, plan);
    return plan;
  }
}
