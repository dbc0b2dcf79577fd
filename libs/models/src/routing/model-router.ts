import { IsogateError } from '@isogate/isolation';
import {
  ChatModel,
  type ChatModelAnswer,
  type ChatModelDelta,
  type ChatModelRequest,
} from '../chat-model.js';
import { DenseEmbedder } from '../dense-embedder.js';
import { upstreamKey, type ModelCatalog, type Upstream } from '../catalog/model-catalog.js';
import { followPlan, type UpstreamGates } from './follow-plan.js';
import type { RouteRecord } from './route-record.js';
import { RoutePlans } from './route-plans.js';
import { openStream, type OpenedStream } from './opened-stream.js';
import type { TenantPolicy } from './tenant-policy.js';
import { UpstreamBreakers, type BreakerSettings, type BreakerState } from './upstream-breakers.js';
import { UpstreamRateLimits } from './upstream-rate-limits.js';

/** How the router falls back. */
export interface ModelRouterOptions {
  readonly breaker?: BreakerSettings;
  /** Upstream calls per request at most (default: as many as the model has compliant ones). */
  readonly maxAttempts?: number;
  /** (policy, logical model) compliance decisions kept (default 1,000). */
  readonly cacheSize?: number;
  /** The clock the upstreams' rate limits are counted by, in milliseconds (`Date.now`). */
  readonly now?: () => number;
}

/** Texts per embeddings request (DenseEmbedder's default), which rate limits count by. */
const EMBEDDINGS_BATCH_SIZE = 64;

/** A chat request as the router takes it: the model is the upstream's, set per attempt. */
export type RoutedChatRequest = Omit<ChatModelRequest, 'model'>;

/** A complete answer and the route it took. */
export interface RoutedAnswer {
  readonly answer: ChatModelAnswer;
  readonly route: RouteRecord;
}

/**
 * A started stream: the route is settled (an upstream sent its first delta), `deltas` yields
 * every delta from the first on. Iterate it to its end, or stop early (`return()`), so the
 * upstream request is closed.
 */
export interface RoutedStream {
  readonly route: RouteRecord;
  readonly deltas: AsyncGenerator<ChatModelDelta>;
}

/** Vectors and the route they took. */
export interface RoutedVectors {
  readonly vectors: number[][];
  /** The input tokens the upstream reported (0 when it reports none). */
  readonly tokens: number;
  readonly route: RouteRecord;
}

/**
 * Sends each request to the first upstream of its logical model that the tenant's policy
 * allows, whose breaker is closed and whose rate limit (in this process) is not used up, and
 * falls back to the next compliant one when that one times out, answers 5xx or 429, or cannot
 * be reached. A non-compliant upstream is never called: the only upstreams tried are those of
 * the request's plan, which holds the compliant ones alone. A 4xx answer or the caller's
 * departure reaches the caller as it is.
 */
export class ModelRouter {
  readonly #chat = new Map<string, ChatModel>();
  readonly #embedders = new Map<string, DenseEmbedder>();
  readonly #gates: UpstreamGates;
  readonly #plans: RoutePlans;

  constructor(catalog: ModelCatalog, options: ModelRouterOptions = {}) {
    for (const upstream of catalog.upstreams) {
      const key = upstreamKey(catalog, upstream.id);
      const connection = {
        baseURL: upstream.baseUrl,
        ...(key !== undefined ? { apiKey: key } : {}),
        timeoutMs: upstream.timeoutMs,
        maxRetries: upstream.maxRetries,
        ...(upstream.azure !== undefined ? { azure: upstream.azure } : {}),
      };
      if (upstream.purpose === 'chat') this.#chat.set(upstream.id, new ChatModel(connection));
      else {
        this.#embedders.set(
          upstream.id,
          new DenseEmbedder({
            ...connection,
            model: upstream.model,
            dimensions: upstream.dimensions ?? 0,
            batchSize: EMBEDDINGS_BATCH_SIZE,
          }),
        );
      }
    }
    const maxAttempts = options.maxAttempts;
    if (maxAttempts !== undefined && (!Number.isInteger(maxAttempts) || maxAttempts < 1)) {
      throw new RangeError(`maxAttempts must be a positive integer, got ${maxAttempts}`);
    }
    this.#gates = {
      breakers: new UpstreamBreakers(
        catalog.upstreams.map((upstream) => upstream.id),
        options.breaker,
      ),
      limits: new UpstreamRateLimits(catalog.upstreams, options.now),
      maxAttempts,
    };
    this.#plans = new RoutePlans(catalog, options.cacheSize);
  }

  /**
   * The answer of the first compliant upstream of `logicalModel` able to give it.
   * @throws IsogateError `model_not_found` (no such chat model for this policy),
   * `no_compliant_upstream` (none complies, or all that do failed), or the upstream's failure
   * that is not a reason to fall back (`upstream_error` for a 4xx, `client_closed_request`).
   */
  async complete(
    logicalModel: string,
    policy: TenantPolicy,
    request: RoutedChatRequest,
    signal?: AbortSignal,
  ): Promise<RoutedAnswer> {
    const plan = this.#plans.plan(logicalModel, 'chat', policy);
    const { value, route } = await followPlan(plan, this.#gates, (upstream) =>
      this.chatOf(upstream).complete({ ...request, model: upstream.model }, signal),
    );
    return { answer: value, route };
  }

  /**
   * The answer streamed by the first compliant upstream that starts one: resolves once an
   * upstream sent a delta that carries something (text, a tool call, logprobs, the finish or
   * the usage), so it falls back only before anything could have been forwarded. After that,
   * a failure is thrown by `deltas` as ChatModel's (`upstream_error`, `upstream_timeout`).
   * @throws as `complete`, before the stream started.
   */
  async stream(
    logicalModel: string,
    policy: TenantPolicy,
    request: RoutedChatRequest,
    signal?: AbortSignal,
  ): Promise<RoutedStream> {
    const plan = this.#plans.plan(logicalModel, 'chat', policy);
    const { value, route } = await followPlan<OpenedStream>(plan, this.#gates, (upstream) =>
      openStream(this.chatOf(upstream).stream({ ...request, model: upstream.model }, signal)),
    );
    return { route, deltas: value.deltas };
  }

  /**
   * One vector per text from the first compliant upstream of the embeddings model able to
   * embed them all (a fallback embeds every text again: vectors of one request come from
   * one upstream).
   * @throws IsogateError `model_not_found`, `no_compliant_upstream`, or `store_unavailable`
   * for a failure that is not a reason to fall back (a 4xx, a malformed answer).
   */
  async embed(
    logicalModel: string,
    policy: TenantPolicy,
    texts: readonly string[],
  ): Promise<RoutedVectors> {
    const plan = this.#plans.plan(logicalModel, 'embeddings', policy);
    // One request per batch: that is what an upstream's rate limit counts.
    const requests = Math.ceil(texts.length / EMBEDDINGS_BATCH_SIZE);
    const { value, route } = await followPlan(
      plan,
      this.#gates,
      (upstream) => this.embedderOf(upstream).embedCounted(texts),
      requests,
    );
    return { vectors: value.vectors, tokens: value.tokens, route };
  }

  /** The state of upstream `id`'s breaker, for health checks and metrics. */
  breakerState(upstreamId: string): BreakerState {
    return this.#gates.breakers.state(upstreamId);
  }

  private chatOf(upstream: Upstream): ChatModel {
    const client = this.#chat.get(upstream.id);
    if (client === undefined) throw new IsogateError('internal_error', 'Internal error');
    return client;
  }

  private embedderOf(upstream: Upstream): DenseEmbedder {
    const client = this.#embedders.get(upstream.id);
    if (client === undefined) throw new IsogateError('internal_error', 'Internal error');
    return client;
  }
}
