import { Inject, Injectable } from '@nestjs/common';
import { AuditScope } from '@isogate/audit';
import { IsogateError, UsageLedger, type TenantState } from '@isogate/isolation';
import {
  allowedModels,
  compliantUpstreams,
  mergePolicy,
  ModelRouter,
  NoCompliantUpstreamError,
  type LogicalModel,
  type ModelCatalog,
  type RoutedAnswer,
  type RoutedChatRequest,
  type RoutedStream,
  type TenantPolicy,
} from '@isogate/models';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig, ModelConfig } from '../config/config.js';

/** What a tenant that is gone since the edge checked it may reach: nothing. */
const NOTHING: TenantPolicy = { allowed_regions: [], models: [] };

const policies = new WeakMap<TenantState, TenantPolicy>();

/**
 * The model policy in force for a tenant: its MSP's default with the tenant's own added. One
 * object per tenant state (the state cache hands out one until it reads the row again), so
 * the merge and the policy's canonical form are worked out once, not on every request.
 */
export function policyOf(state: TenantState | undefined): TenantPolicy {
  if (state === undefined) return NOTHING;
  let policy = policies.get(state);
  if (policy === undefined) {
    policy = mergePolicy(state.mspPolicy, state.policy);
    policies.set(state, policy);
  }
  return policy;
}

/**
 * The models a tenant may use and the upstreams its requests go to, by its policy: a request
 * reaches only an upstream whose attributes satisfy the tenant's policy (ModelRouter), falls
 * back to the next compliant one on a timeout, 5xx or 429, and a model the policy does not
 * allow is not found, exactly like one that does not exist. Without any chat upstream, chat
 * answers extractively under the names LLM_MODEL and LLM_MODELS give (nothing leaves).
 */
@Injectable()
export class ModelRouting {
  readonly router: ModelRouter;
  readonly #catalog: ModelCatalog;
  readonly #extractive: readonly ModelConfig[];

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(UsageLedger) private readonly ledger: UsageLedger,
  ) {
    this.#catalog = config.models.catalog;
    this.router = new ModelRouter(this.#catalog);
    this.#extractive = config.llm.models;
  }

  /** Whether a model generates answers (otherwise chat is extractive). */
  get generates(): boolean {
    return this.#catalog.models.some((model) => model.purpose === 'chat');
  }

  /** The catalog's embeddings model `name`, if it has one. */
  embeddingsModel(name: string): LogicalModel | undefined {
    const model = this.#catalog.model(name);
    return model?.purpose === 'embeddings' ? model : undefined;
  }

  /**
   * The embeddings model `name` for a tenant of `policy`.
   * @throws IsogateError `invalid_request` naming the field when the catalog has no such
   * embeddings model, or none of its upstreams meets the policy
   */
  compliantEmbeddingsModel(name: string, policy: TenantPolicy): LogicalModel {
    const model = this.embeddingsModel(name);
    if (model === undefined) {
      throw new IsogateError(
        'invalid_request',
        `The embeddings model "${name.slice(0, 200)}" is not in the catalog`,
        { param: 'embeddings_model' },
      );
    }
    if (compliantUpstreams(this.#catalog, name, policy).length === 0) {
      throw new IsogateError(
        'invalid_request',
        `No upstream of the embeddings model "${model.name}" meets the tenant's compliance policy`,
        { param: 'embeddings_model' },
      );
    }
    return model;
  }

  /** The chat models `policy` allows, with their context windows, in catalog order. */
  chatModels(policy: TenantPolicy): ModelConfig[] {
    if (!this.generates) {
      const allowed = policy.models;
      return this.#extractive.filter((m) => allowed === undefined || allowed.includes(m.id));
    }
    return allowedModels(this.#catalog, policy, 'chat').map((model) => ({
      id: model.name,
      contextTokens: model.contextTokens ?? 0,
    }));
  }

  /**
   * The chat model `name` for a tenant of `policy`.
   * @throws IsogateError `model_not_found`, the same for a model that does not exist and one
   * the policy does not allow (or that has no upstream it allows).
   */
  chatModel(name: string, policy: TenantPolicy): ModelConfig {
    // Only the model asked for is looked at: this runs on every chat request.
    const model = this.generates
      ? this.#routable(name, policy)
      : this.chatModels(policy).find((m) => m.id === name);
    if (model === undefined) {
      throw new IsogateError(
        'model_not_found',
        `The model "${name.slice(0, 200)}" is not offered; see GET /v1/models`,
      );
    }
    return model;
  }

  #routable(name: string, policy: TenantPolicy): ModelConfig | undefined {
    const model = this.#catalog.model(name);
    if (model?.purpose !== 'chat') return undefined;
    if (compliantUpstreams(this.#catalog, name, policy).length === 0) return undefined;
    return { id: model.name, contextTokens: model.contextTokens ?? 0 };
  }

  /** The answer of model `name` for `policy`; its route goes on the request's audit event. */
  async complete(
    name: string,
    policy: TenantPolicy,
    request: RoutedChatRequest,
    signal: AbortSignal,
  ): Promise<RoutedAnswer> {
    try {
      const routed = await this.router.complete(name, policy, request, signal);
      AuditScope.annotate({ route: routed.route });
      return routed;
    } catch (error) {
      // None was left: the attempts, and why each failed, are on record all the same.
      if (error instanceof NoCompliantUpstreamError) {
        AuditScope.annotate({
          route: { policy_version: error.policyVersion, attempts: error.attempts },
        });
      }
      throw error;
    }
  }

  /**
   * Counts, for the current tenant's usage, the tokens `model` served through `upstream` and
   * their cost at the catalog's prices (none when the catalog names no price).
   */
  recordUsage(model: string, upstream: string, tokensIn: number, tokensOut: number): void {
    const price = this.#catalog.upstream(upstream)?.price;
    const costMicroUsd =
      price === undefined
        ? 0
        : Math.round(tokensIn * price.inputPerMtok + tokensOut * price.outputPerMtok);
    this.ledger.recordModel({ model, upstream, tokensIn, tokensOut, costMicroUsd });
  }

  /** The answer of model `name` for `policy`, streamed; the route is the caller's to record. */
  stream(
    name: string,
    policy: TenantPolicy,
    request: RoutedChatRequest,
    signal: AbortSignal,
  ): Promise<RoutedStream> {
    return this.router.stream(name, policy, request, signal);
  }
}
