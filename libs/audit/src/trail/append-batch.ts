import {
  IsogateError,
  type AuditAppendChain,
  type AuditAppendInteraction,
  type AuditAppendOutcome,
} from '@isogate/isolation';
import {
  PLATFORM_SCOPE,
  type AuditDraft,
  type AuditEvent,
  type AuditStream,
} from '../chain/audit-event.js';
import { eventHash } from '../chain/canonical.js';
import type { ChainStart } from '../chain/chain-verifier.js';
import type { StagedInteraction } from '../interactions/staged-interaction.js';

/** One append waiting for its chain's next write. */
export interface Pending {
  readonly draft: AuditDraft;
  readonly interactions: readonly StagedInteraction[];
  readonly resolve: (event: AuditEvent) => void;
  readonly reject: (error: unknown) => void;
}

/** The appends of one chain that go into one statement. */
export interface ChainBatch {
  /** The chain's lock key: also the order in which a statement visits its chains. */
  readonly key: string;
  readonly stream: AuditStream;
  readonly items: readonly Pending[];
}

/** A chain's part of an append: the events sealed on the head the caller knew. */
export interface SealedChain {
  readonly batch: ChainBatch;
  readonly events: readonly AuditEvent[];
  readonly payload: AuditAppendChain;
}

/** What the append answered for one chain. */
export type ChainOutcome = AuditAppendOutcome;

/** The lock key of a stream's chain, as the database's append lock names it. */
export function chainKey(stream: AuditStream): string {
  switch (stream.kind) {
    case 'tenant':
      return `t:${stream.tenantId}`;
    case 'msp':
      return `c:${stream.mspId}`;
    case 'platform':
      return `c:${PLATFORM_SCOPE}`;
  }
}

/**
 * Seals a batch on `head`: consecutive seq, each event's prev_hash the previous hash. Without a
 * known head nothing is sealed: the statement then only answers the chain's head.
 */
export function sealChain(
  batch: ChainBatch,
  head: ChainStart | undefined,
  ts: string,
): SealedChain {
  const { stream } = batch;
  const tenant = stream.kind === 'tenant';
  const chain = tenant ? stream.tenantId : stream.kind === 'msp' ? stream.mspId : PLATFORM_SCOPE;
  if (head === undefined) {
    const payload: AuditAppendChain = {
      kind: tenant ? 't' : 'c',
      chain,
      expect_seq: null,
      expect_hash: null,
    };
    return { batch, events: [], payload };
  }
  let seq = head.seq;
  let prevHash = head.hash;
  const events = batch.items.map(({ draft }) => {
    seq += 1;
    const event = sealEvent(stream, draft, seq, ts, prevHash);
    prevHash = event.hash;
    return event;
  });
  const rows = events.map((event) => (tenant ? event : { ...event, scope: chain }));
  const staged = batch.items.flatMap((p) => p.interactions);
  if (!tenant && staged.length > 0)
    throw new IsogateError('internal_error', 'Interactions belong to a tenant chain only');
  const interactions = staged.map((i) => interactionRow(i, chain, ts));
  const payload: AuditAppendChain = {
    kind: tenant ? 't' : 'c',
    chain,
    expect_seq: head.seq,
    expect_hash: head.hash,
    events: rows,
    interactions,
  };
  return { batch, events, payload };
}

/** The head a chain has once `sealed` is committed. */
export function headAfter(sealed: SealedChain): ChainStart | undefined {
  const last = sealed.events.at(-1);
  return last === undefined ? undefined : { seq: last.seq, hash: last.hash };
}

function sealEvent(
  stream: AuditStream,
  draft: AuditDraft,
  seq: number,
  ts: string,
  prevHash: string,
): AuditEvent {
  const unsealed: Omit<AuditEvent, 'hash'> = storable({
    id: draft.id,
    seq,
    ts,
    tenant_id:
      stream.kind === 'tenant'
        ? stream.tenantId
        : stream.kind === 'msp'
          ? (draft.tenant_id ?? null)
          : null,
    msp_id: stream.kind === 'msp' ? stream.mspId : null,
    actor: draft.actor,
    roles: [...draft.roles],
    action: draft.action,
    resource: draft.resource,
    outcome: draft.outcome,
    status: draft.status,
    request_id: draft.request_id,
    details: draft.details,
    prev_hash: prevHash,
  });
  return { ...unsealed, hash: eventHash(unsealed) };
}

/**
 * `value` with every string made storable by PostgreSQL, whose text and jsonb hold neither NUL
 * nor unpaired surrogates (both become U+FFFD). Events carry request data (a path parameter,
 * the claims of a refused token), and the hash must cover exactly what is stored; one such
 * value must also never fail the statement that writes other chains' events.
 */
export function storable<T>(value: T): T {
  if (typeof value === 'string') return value.toWellFormed().replaceAll('\u0000', '\uFFFD') as T;
  if (Array.isArray(value)) return value.map(storable) as T;
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [storable(k), storable(v)]),
    ) as T;
  return value;
}

/** An interaction row; its time is its event's, to the millisecond, so cursors over it are exact. */
function interactionRow(
  i: StagedInteraction,
  tenantId: string,
  ts: string,
): AuditAppendInteraction {
  return {
    ts,
    id: i.id,
    tenant_id: tenantId,
    request_id: i.requestId,
    kind: i.kind,
    content_enc: i.contentEnc,
    content_sha256: i.contentSha256,
    model: i.model,
    tokens_in: i.tokensIn,
    tokens_out: i.tokensOut,
  };
}
