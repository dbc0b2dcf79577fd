import { Inject, Injectable } from '@nestjs/common';
import {
  AuditScope,
  InteractionLog,
  canonicalJson,
  sha256Hex,
  type InteractionChunk,
} from '@isogate/audit';
import { countTokens } from '@isogate/embeddings';
import {
  policyVersion,
  type ChatModelDelta,
  type ChatModelRequest,
  type RouteRecord,
  type RoutedChatRequest,
  type TenantPolicy,
  type ToolCall,
} from '@isogate/models';
import { applyPii, TenantContext, TenantKeys } from '@isogate/isolation';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { TenantSettings } from '../documents/tenant-settings.js';
import { QuotaService } from '../quota/quota.service.js';
import { RetrievalService } from '../retrieval/retrieval.service.js';
import { removeForeignLinks } from './answer-links.js';
import { ChatCache, type CacheLookup, type CachedAnswer } from './chat-cache.js';
import { citationsOf, extractiveText, usageOf, type Answer } from './chat-answer.js';
import type { LiveAnswer } from './chat-stream.js';
import { StreamAudit } from './stream-audit.js';
import type { ChatRequest } from './chat.schemas.js';
import {
  assertHonoured,
  modelOptionsOf,
  recordedMessages,
  turnOf,
  type ModelOptions,
} from './chat-request.js';
import { buildContextWindow, renderPassage, type ContextWindow } from './context-window.js';
import { ModelRouting } from '../models/model-routing.js';

/** Characters of the latest user message used as the retrieval query. */
const MAX_QUERY_CHARS = 4_000;

/**
 * Answers a chat request from the caller's tenant only: cache lookup, retrieval (with the
 * tenant's credentials), the context window, the model (or the extractive answer), links
 * removed, and the interaction recorded for the request's audit event.
 */
@Injectable()
export class ChatService {
  constructor(
    @Inject(RetrievalService) private readonly retrieval: RetrievalService,
    @Inject(TenantSettings) private readonly settings: TenantSettings,
    @Inject(TenantKeys) private readonly keys: TenantKeys,
    @Inject(InteractionLog) private readonly interactions: InteractionLog,
    @Inject(ChatCache) private readonly cache: ChatCache,
    @Inject(ModelRouting) private readonly routing: ModelRouting,
    @Inject(QuotaService) private readonly quota: QuotaService,
    @Inject(StreamAudit) private readonly streams: StreamAudit,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The answer to `body` for the current caller; `signal` aborts when the caller leaves. */
  async answer(body: ChatRequest, signal: AbortSignal): Promise<Answer> {
    const prepared = await this.prepare(body);
    if (prepared.hit !== undefined) return prepared.hit;
    const fresh = await this.generate(prepared, signal);
    return this.deliver(prepared, fresh);
  }

  /**
   * The answer to a streaming request: whole when it exists before the first byte (a cache hit,
   * an extractive answer), otherwise live, generated while it is sent, with its start and end
   * on record (StreamAudit).
   */
  async stream(body: ChatRequest, signal: AbortSignal): Promise<Answer | LiveAnswer> {
    const prepared = await this.prepare(body);
    if (prepared.hit !== undefined) return prepared.hit;
    if (!this.routing.generates) {
      return this.deliver(prepared, await this.generate(prepared, signal));
    }
    return this.live(prepared, signal);
  }

  /**
   * Everything before the model: the request checked, the tenant's PII rules applied, the cache
   * looked up (a hit is served at once), the token quota checked, the tenant's passages
   * retrieved and the context window built.
   */
  private async prepare(body: ChatRequest): Promise<Prepared> {
    const { pii, images, policy } = await this.settings.current();
    // A model the tenant's policy does not allow is not found, like one that does not exist.
    const model = this.routing.chatModel(body.model, policy);
    assertHonoured(body, this.routing.generates, images);
    const maxTokens =
      body.max_completion_tokens ?? body.max_tokens ?? this.config.llm.maxOutputTokens;
    // The tenant's PII rules apply to what is sent to the model, as to what is stored.
    const clean = (text: string) => applyPii(text, pii).text;
    const conversation = body.messages.map((m) => turnOf(m, clean));
    const sampling = samplingOf(body);
    const options = modelOptionsOf(body, clean);
    const cached = this.cache.enabled
      ? await this.cache.lookup({
          model: model.id,
          messages: conversation,
          retrieval: body.retrieval,
          sampling: { ...sampling, max_tokens: maxTokens },
          // An answer with tool calls is an answer to these tools, and JSON to this format.
          tools: options,
          roles: [...TenantContext.require().roles].sort(),
        })
      : undefined;
    if (cached?.answer !== undefined) {
      return { hit: await this.served(cached.answer, model.id, 'hit') };
    }
    // A cache hit spends no model tokens; anything else needs some left for today.
    await this.quota.assertTokensAvailable();

    const query = [...conversation].reverse().find((t) => t.role === 'user')?.content ?? '';
    // The query comes from the conversation, which has met the PII rules already.
    const { results } = await this.retrieval.retrieveCleaned({
      query: query.slice(-MAX_QUERY_CHARS),
      top_k: body.retrieval.top_k,
      expand_graph: body.retrieval.expand_graph,
      ...(body.retrieval.filter !== undefined ? { filter: body.retrieval.filter } : {}),
    });
    const window = buildContextWindow({
      conversation,
      passages: results,
      contextTokens: model.contextTokens,
      maxTokens,
    });
    // The tools and answer format are part of what the model was given, so of the record too.
    const messages = recordedMessages(window.messages);
    const prompt = canonicalJson(
      Object.keys(options).length === 0 ? messages : { messages, options },
    );
    const chunks = window.passages.map((p, i) => ({
      document_id: p.document_id,
      chunk_index: p.chunk_index,
      sha256: sha256Hex(renderPassage(i + 1, p)),
    }));
    return {
      hit: undefined,
      model: model.id,
      policy,
      maxTokens,
      sampling,
      options,
      user: body.user,
      cached,
      window,
      prompt,
      chunks,
    };
  }

  /** A fresh answer served: cached once it is on record, and the interaction recorded. */
  private async deliver(prepared: Generating, fresh: CachedAnswer): Promise<Answer> {
    const { cached } = prepared;
    if (cached !== undefined) {
      // Cached only once the answer is on record: an answer whose event could not be written
      // was never given, and must not be served later either. It is stored with the corpus
      // version read before retrieval: a document changed since makes it stale at once.
      const caller = TenantContext.require();
      AuditScope.require().afterCommit(() =>
        TenantContext.run(caller, () => this.cache.put(cached, fresh)),
      );
    }
    return this.served(fresh, prepared.model, cached === undefined ? 'off' : 'miss');
  }

  /**
   * An answer streamed from the model. The request's event becomes the stream's start; the
   * model is called when the stream is first read, after that event is committed. When the
   * stream ends, however it ends, its end goes on record, the tokens are charged, and a whole
   * answer is cached.
   */
  private async live(prepared: Generating, signal: AbortSignal): Promise<LiveAnswer> {
    const { window, prompt, chunks, cached } = prepared;
    const started = this.streams.started(
      prepared.model,
      prompt,
      chunks,
      cached === undefined ? 'off' : 'miss',
      policyVersion(prepared.policy),
    );
    const request = await this.modelRequest(prepared);
    // The upstream is chosen when the stream starts (after the start event): the route goes
    // with the end event.
    let route: RouteRecord | undefined;
    const routing = this.routing;
    async function* deltas(): AsyncGenerator<ChatModelDelta> {
      const opened = await routing.stream(prepared.model, prepared.policy, request, signal);
      route = opened.route;
      yield* opened.deltas;
    }
    return {
      linkHosts: this.config.llm.linkHosts,
      mayProceed: () => started.mayProceed(signal),
      deltas,
      finish: async (result) => {
        const answer: CachedAnswer = {
          text: result.text,
          toolCalls: result.toolCalls,
          logprobs: result.logprobs,
          finishReason: result.finishReason ?? 'stop',
          citations: citationsOf(result.text, window.passages),
          extractive: false,
          // A model that reports no usage is charged what the gateway counted itself.
          promptTokens: result.called ? result.usage?.promptTokens || window.promptTokens : 0,
          completionTokens: result.called
            ? result.usage?.completionTokens || countTokens(recordedAnswer(result))
            : 0,
          prompt,
          chunks,
        };
        const tokens = answer.promptTokens + answer.completionTokens;
        try {
          await this.streams.completed(started, {
            result,
            route,
            answer: recordedAnswer(answer),
            promptTokens: answer.promptTokens,
            completionTokens: answer.completionTokens,
          });
        } finally {
          // Tokens the model spent are charged however the stream ended.
          await TenantContext.run(started.caller, async () => {
            await this.quota.chargeTokens(tokens);
            if (route === undefined) return;
            this.routing.recordUsage(
              prepared.model,
              route.upstream,
              answer.promptTokens,
              answer.completionTokens,
            );
          });
        }
        if (cached !== undefined && result.end === 'completed') {
          await TenantContext.run(started.caller, () => this.cache.put(cached, answer));
        }
        return {
          citations: answer.citations,
          extractive: false,
          usage: usageOf(answer.promptTokens, answer.completionTokens),
        };
      },
    };
  }

  /** The model's answer (or the extractive one, without a model), links removed, charged. */
  private async generate(prepared: Generating, signal: AbortSignal): Promise<CachedAnswer> {
    const { window, prompt, chunks } = prepared;
    if (!this.routing.generates) {
      const text = removeForeignLinks(extractiveText(window.passages), this.config.llm.linkHosts);
      return {
        text,
        // Tools offered without a model are not called: the answer is the passages (API.md).
        toolCalls: [],
        logprobs: null,
        finishReason: 'stop',
        // The passages it quotes, numbered [1], [2], ... like citations.
        citations: citationsOf(text, window.passages),
        extractive: true,
        promptTokens: 0,
        completionTokens: countTokens(text),
        prompt,
        chunks,
      };
    }
    const request = await this.modelRequest(prepared);
    const { answer: reply, route } = await this.routing.complete(
      prepared.model,
      prepared.policy,
      request,
      signal,
    );
    const text = removeForeignLinks(reply.text, this.config.llm.linkHosts);
    const answer: CachedAnswer = {
      text,
      toolCalls: reply.toolCalls,
      logprobs: reply.logprobs,
      finishReason: reply.finishReason,
      citations: citationsOf(text, window.passages),
      extractive: false,
      // An endpoint that reports no usage is charged what the gateway counted itself.
      promptTokens: reply.promptTokens || window.promptTokens,
      completionTokens: reply.completionTokens || countTokens(recordedAnswer(reply)),
      prompt,
      chunks,
    };
    await this.quota.chargeTokens(answer.promptTokens + answer.completionTokens);
    this.routing.recordUsage(
      prepared.model,
      route.upstream,
      answer.promptTokens,
      answer.completionTokens,
    );
    return answer;
  }

  /** What the model is asked, as the prepared request says. */
  private async modelRequest(prepared: Generating): Promise<RoutedChatRequest> {
    return {
      messages: prepared.window.messages,
      maxTokens: prepared.maxTokens,
      ...prepared.sampling,
      ...prepared.options,
      user: await this.pseudonym(prepared.user),
    };
  }

  /** Records the interaction (with the provenance of the original answer on a hit). */
  private async served(
    answer: CachedAnswer,
    model: string,
    cache: 'hit' | 'miss' | 'off',
  ): Promise<Answer> {
    AuditScope.annotate({ cache, model, extractive: answer.extractive });
    await this.interactions.record({
      kind: 'chat',
      prompt: answer.prompt,
      chunks: answer.chunks,
      answer: recordedAnswer(answer),
      model: answer.extractive ? null : model,
      tokens_in: cache === 'hit' ? 0 : answer.promptTokens,
      tokens_out: cache === 'hit' ? 0 : answer.completionTokens,
    });
    return answer;
  }

  /** The end user as the provider sees them: a keyed digest, stable per tenant, unlinkable. */
  private async pseudonym(user: string | null | undefined): Promise<string> {
    const { subject } = TenantContext.require();
    const mac = await this.keys.mac('llm-user', `${subject}\n${user ?? ''}`);
    return `isogate-${mac.slice(0, 32)}`;
  }
}

/** A request ready for the model: what it is asked, and the provenance of its context window. */
interface Generating {
  readonly hit: undefined;
  readonly model: string;
  /** The model policy in force for the tenant. */
  readonly policy: TenantPolicy;
  readonly maxTokens: number;
  readonly sampling: Sampling;
  readonly options: ModelOptions;
  readonly user: string | null | undefined;
  readonly cached: CacheLookup | undefined;
  readonly window: ContextWindow;
  /** What the model is given, as the interaction records it. */
  readonly prompt: string;
  readonly chunks: readonly InteractionChunk[];
}

/** A prepared request: answered from the cache, or ready for the model. */
type Prepared = { readonly hit: Answer } | Generating;

/** The answer as the interaction keeps it: the tool calls are on record with the text. */
function recordedAnswer(answer: {
  readonly text: string;
  readonly toolCalls: readonly ToolCall[];
}): string {
  return answer.toolCalls.length === 0
    ? answer.text
    : canonicalJson({ content: answer.text, tool_calls: answer.toolCalls });
}

type Sampling = Pick<
  ChatModelRequest,
  'temperature' | 'topP' | 'stop' | 'presencePenalty' | 'frequencyPenalty' | 'seed'
>;

function samplingOf(body: ChatRequest): Sampling {
  const sampling: { -readonly [K in keyof Sampling]: Sampling[K] } = {};
  if (body.temperature != null) sampling.temperature = body.temperature;
  if (body.top_p != null) sampling.topP = body.top_p;
  if (body.stop != null) sampling.stop = body.stop;
  if (body.presence_penalty != null) sampling.presencePenalty = body.presence_penalty;
  if (body.frequency_penalty != null) sampling.frequencyPenalty = body.frequency_penalty;
  if (body.seed != null) sampling.seed = body.seed;
  return sampling;
}
