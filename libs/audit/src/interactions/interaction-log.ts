import { randomUUID } from 'node:crypto';
import { TenantContext, type TenantKeys } from '@isogate/isolation';
import { canonicalJson, sha256Hex } from '../chain/canonical.js';
import { AuditScope } from '../scope/audit-scope.js';

/** A chunk placed in the context window: which one, and a hash of exactly what the model saw. */
export interface InteractionChunk {
  readonly document_id: string;
  readonly chunk_index: number;
  readonly sha256: string;
}

/** What chat and retrieve report about one call. */
export interface InteractionInput {
  readonly kind: 'chat' | 'retrieve';
  readonly prompt: string;
  readonly chunks: readonly InteractionChunk[];
  readonly answer: string;
  readonly model: string | null;
  readonly tokens_in: number;
  readonly tokens_out: number;
  /** Set when `answer` is only the part of a streamed answer sent before the stream ended. */
  readonly partial?: boolean;
}

/** The hashes the audit event carries for one interaction (the chain covers them). */
export interface InteractionSummary {
  readonly id: string;
  readonly kind: 'chat' | 'retrieve';
  readonly content_sha256: string;
  readonly prompt_sha256: string;
  readonly answer_sha256: string;
  readonly chunks: readonly InteractionChunk[];
  readonly model: string | null;
  readonly tokens_in: number;
  readonly tokens_out: number;
  readonly partial?: true;
}

/**
 * Records what chat and retrieve saw and answered. The content is sealed with the tenant's
 * data key and written in the same transaction as the request's audit event, whose details
 * carry its hashes: if the event cannot be written, neither is the interaction (and the
 * gateway answers 503 instead of the answer).
 */
export class InteractionLog {
  constructor(private readonly keys: TenantKeys) {}

  /** Seals and stages one interaction of the current request; returns its id and hashes. */
  async record(input: InteractionInput): Promise<InteractionSummary> {
    const scope = AuditScope.require();
    const { requestId } = TenantContext.require();
    const content = canonicalJson({
      prompt: input.prompt,
      chunks: input.chunks,
      answer: input.answer,
      ...(input.partial === true ? { partial: true } : {}),
    });
    const summary: InteractionSummary = {
      id: randomUUID(),
      kind: input.kind,
      content_sha256: sha256Hex(content),
      prompt_sha256: sha256Hex(input.prompt),
      answer_sha256: sha256Hex(input.answer),
      chunks: input.chunks.map((c) => ({ ...c })),
      model: input.model,
      tokens_in: input.tokens_in,
      tokens_out: input.tokens_out,
      ...(input.partial === true ? { partial: true as const } : {}),
    };
    scope.stage({
      id: summary.id,
      requestId,
      kind: input.kind,
      contentEnc: await this.keys.seal(content),
      contentSha256: summary.content_sha256,
      model: input.model,
      tokensIn: input.tokens_in,
      tokensOut: input.tokens_out,
    });
    const previous = (scope.details.interactions as InteractionSummary[] | undefined) ?? [];
    scope.annotate({ interactions: [...previous, summary] });
    return summary;
  }
}
