import { Inject, Injectable } from '@nestjs/common';
import {
  AuditScope,
  AuditTrail,
  CHAT_STREAM_ACTIONS,
  InteractionLog,
  sha256Hex,
  type AuditDraft,
  type InteractionChunk,
} from '@isogate/audit';
import { IsogateError, TenantContext, type CallerContext } from '@isogate/isolation';
import type { RouteRecord } from '@isogate/models';
import type { StreamResult } from './chat-stream.js';

/**
 * A stream whose start event is the current request's event. `onRecord` settles once that event
 * is committed (true) or refused (false, the request answered 503); never when the request was
 * not answered at all (its client went away before the first chunk).
 */
export class StartedStream {
  readonly onRecord: Promise<boolean>;
  #settle: (committed: boolean) => void = () => {};

  constructor(
    readonly eventId: string,
    readonly caller: Extract<CallerContext, { kind: 'tenant' }>,
    readonly model: string,
    readonly prompt: string,
    readonly chunks: readonly InteractionChunk[],
  ) {
    this.onRecord = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  settle(committed: boolean): void {
    this.#settle(committed);
  }

  /**
   * Whether the model may be called: true once the start is committed; false when it was
   * refused, or `signal` (the client went away) aborted first.
   */
  async mayProceed(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return false;
    let onAbort = () => {};
    const aborted = new Promise<boolean>((resolve) => {
      onAbort = () => resolve(false);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([this.onRecord, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}

/** The answer of a stream as it goes on record. */
export interface StreamRecord {
  readonly result: StreamResult;
  /** The upstream that answered and the fallbacks on the way, once one was chosen. */
  readonly route: RouteRecord | undefined;
  /** The answer as the interaction keeps it (the text, or the text and tool calls as JSON). */
  readonly answer: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/**
 * The two events of a streamed answer. The start is the request's own event (written before
 * the first byte, like every request's; if it cannot be, the client gets a 503 and the model is
 * never called) with what the model is given: the prompt's hash and the chunks of the context
 * window. The end is a second event in the tenant's chain, linked by the request id, with the
 * answer's hash, the tokens, and how the stream ended; the interaction (the whole answer, or
 * the part sent, flagged partial) is written with it. A start without an end is reported by
 * the verifier on its own, never as a broken chain.
 */
@Injectable()
export class StreamAudit {
  constructor(
    @Inject(AuditTrail) private readonly trail: AuditTrail,
    @Inject(InteractionLog) private readonly interactions: InteractionLog,
  ) {}

  /** Makes the current request's event the start of a stream of `model` given `prompt`. */
  started(
    model: string,
    prompt: string,
    chunks: readonly InteractionChunk[],
    cache: 'miss' | 'off',
    policyVersion: string,
  ): StartedStream {
    const scope = AuditScope.require();
    const caller = TenantContext.require();
    if (caller.kind !== 'tenant') throw new IsogateError('forbidden', 'Chat needs a tenant');
    scope.action = CHAT_STREAM_ACTIONS.started;
    scope.annotate({
      model,
      stream: true,
      cache,
      prompt_sha256: sha256Hex(prompt),
      chunks,
      policy_version: policyVersion,
    });
    const started = new StartedStream(scope.eventId, caller, model, prompt, chunks);
    scope.afterCommit(async () => started.settle(true));
    scope.ifRefused(() => started.settle(false));
    return started;
  }

  /**
   * Writes the end of `started` to the tenant's chain, once its start is (an end can come
   * first: a client that leaves at once); resolves once it is committed.
   */
  async completed(started: StartedStream, record: StreamRecord): Promise<void> {
    // A start that was never written (the request answered 503) has no end either.
    if (!(await started.onRecord)) throw new Error('the stream was not started on record');
    const { caller } = started;
    const { result } = record;
    const scope = new AuditScope();
    await TenantContext.run(caller, () =>
      AuditScope.run(scope, () =>
        this.interactions.record({
          kind: 'chat',
          prompt: started.prompt,
          chunks: started.chunks,
          answer: record.answer,
          model: started.model,
          tokens_in: record.promptTokens,
          tokens_out: record.completionTokens,
          partial: result.end !== 'completed',
        }),
      ),
    );
    const draft: AuditDraft = {
      id: scope.eventId,
      actor: caller.subject,
      roles: caller.roles,
      action: CHAT_STREAM_ACTIONS.completed,
      resource: '/v1/chat/completions',
      outcome: result.end === 'upstream_error' ? 'error' : 'ok',
      status: 200,
      request_id: caller.requestId,
      details: {
        ...scope.details,
        started_event_id: started.eventId,
        end: result.end,
        ...(result.error !== null ? { error: result.error } : {}),
        finish_reason: result.finishReason,
        answer_sha256: sha256Hex(record.answer),
        usage: { prompt_tokens: record.promptTokens, completion_tokens: record.completionTokens },
        ...(record.route !== undefined ? { route: record.route } : {}),
      },
      tenant_id: null,
    };
    await this.trail.append(
      { kind: 'tenant', tenantId: caller.tenantId },
      draft,
      scope.interactions,
    );
  }
}
