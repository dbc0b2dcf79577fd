import { type ControlDb, TenantContext, type TenantDb, type SqlSession } from '@isogate/isolation';
import {
  EVENT_FIELDS,
  PLATFORM_SCOPE,
  type AuditDraft,
  type AuditEvent,
  type AuditStream,
} from '../chain/audit-event.js';
import { eventHash, GENESIS_HASH } from '../chain/canonical.js';
import type { StagedInteraction } from '../interactions/staged-interaction.js';
import { placeholders, valuesOfEvent } from './event-rows.js';
import { runInStream } from './stream-session.js';

/** At most this many events go into one transaction (and one multi-row INSERT). */
const MAX_BATCH = 200;

interface Pending {
  readonly draft: AuditDraft;
  readonly interactions: readonly StagedInteraction[];
  readonly resolve: (event: AuditEvent) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Appends events to their chain, durably (`synchronous_commit` on) before `append` resolves.
 *
 * One chain is extended by one transaction at a time: the transaction takes the chain's
 * advisory lock and reads its head, and the database's insert trigger refuses anything that is
 * not exactly head + 1, so no fork or gap can be committed even across gateway processes.
 * Within a process, appends to one chain that arrive while a transaction is running are written
 * together by the next one (group commit), so a busy tenant costs one commit per batch, not one
 * per request; other chains never wait for it.
 */
export class AuditTrail {
  readonly #queues = new Map<string, Pending[]>();
  readonly #draining = new Set<string>();

  constructor(
    private readonly tenantDb: TenantDb,
    private readonly controlDb: ControlDb,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Appends one event (and the interactions it covers) to `stream`; resolves once committed. */
  append(
    stream: AuditStream,
    draft: AuditDraft,
    interactions: readonly StagedInteraction[] = [],
  ): Promise<AuditEvent> {
    return new Promise<AuditEvent>((resolve, reject) => {
      const key = streamKey(stream);
      const queue = this.#queues.get(key) ?? [];
      queue.push({ draft, interactions, resolve, reject });
      this.#queues.set(key, queue);
      if (!this.#draining.has(key)) void this.drain(stream, key);
    });
  }

  /**
   * Checks, before a request changes anything, that the audit store answers for `stream`, so a
   * write is refused up front rather than done and then left unrecorded.
   */
  async preflight(stream: AuditStream): Promise<void> {
    const table = stream.kind === 'tenant' ? 'audit_heads' : 'audit_control_heads';
    await runInStream(this.tenantDb, this.controlDb, stream, (s) =>
      s.query(`SELECT seq FROM ${table} LIMIT 1`),
    );
  }

  private async drain(stream: AuditStream, key: string): Promise<void> {
    this.#draining.add(key);
    try {
      for (;;) {
        const queue = this.#queues.get(key);
        if (queue === undefined || queue.length === 0) {
          this.#queues.delete(key);
          return;
        }
        const batch = queue.splice(0, MAX_BATCH);
        try {
          const events = await runInStream(this.tenantDb, this.controlDb, stream, (s) =>
            this.write(s, stream, batch),
          );
          batch.forEach((pending, i) => pending.resolve(events[i] as AuditEvent));
        } catch (error) {
          for (const pending of batch) pending.reject(error);
        }
      }
    } finally {
      this.#draining.delete(key);
    }
  }

  private async write(
    session: SqlSession,
    stream: AuditStream,
    batch: readonly Pending[],
  ): Promise<AuditEvent[]> {
    const headFunction = stream.kind === 'tenant' ? 'audit_tenant_head' : 'audit_control_head';
    // synchronous_commit is forced on for this transaction whatever the server's default: the
    // response waits for the event to be on disk.
    const [head] = await session.query<{ seq: string | null; hash: string | null }>(
      `SELECT set_config('synchronous_commit', 'on', true), seq, hash FROM ${headFunction}()`,
    );
    let seq = Number(head?.seq ?? 0);
    let prevHash = head?.hash ?? GENESIS_HASH;
    const ts = this.clock().toISOString();
    const events = batch.map(({ draft }) => {
      seq += 1;
      const event = sealEvent(stream, draft, seq, ts, prevHash);
      prevHash = event.hash;
      return event;
    });
    await this.insertEvents(session, stream, events);
    const staged = batch.flatMap((p) => p.interactions);
    if (staged.length > 0) await insertInteractions(session, staged, ts);
    return events;
  }

  private async insertEvents(
    session: SqlSession,
    stream: AuditStream,
    events: readonly AuditEvent[],
  ): Promise<void> {
    if (stream.kind === 'tenant') {
      await session.execute(
        `INSERT INTO audit_events (${EVENT_FIELDS.join(', ')}) VALUES ${placeholders(events.length, EVENT_FIELDS.length)}`,
        events.flatMap(valuesOfEvent),
      );
      return;
    }
    const scope = stream.kind === 'msp' ? stream.mspId : PLATFORM_SCOPE;
    await session.execute(
      `INSERT INTO audit_control_events (scope, ${EVENT_FIELDS.join(', ')})
       VALUES ${placeholders(events.length, EVENT_FIELDS.length + 1)}`,
      events.flatMap((event) => [scope, ...valuesOfEvent(event)]),
    );
  }
}

function sealEvent(
  stream: AuditStream,
  draft: AuditDraft,
  seq: number,
  ts: string,
  prevHash: string,
): AuditEvent {
  const unsealed: Omit<AuditEvent, 'hash'> = {
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
  };
  return { ...unsealed, hash: eventHash(unsealed) };
}

async function insertInteractions(
  session: SqlSession,
  staged: readonly StagedInteraction[],
  ts: string,
): Promise<void> {
  // The interaction's time is its event's, to the millisecond, so cursors over it are exact.
  const columns = [
    'ts',
    'id',
    'tenant_id',
    'request_id',
    'kind',
    'content_enc',
    'content_sha256',
    'model',
    'tokens_in',
    'tokens_out',
  ];
  await session.execute(
    `INSERT INTO interactions (${columns.join(', ')}) VALUES ${placeholders(staged.length, columns.length)}`,
    staged.flatMap((i) => [
      ts,
      i.id,
      TenantContext.requireTenantId(),
      i.requestId,
      i.kind,
      i.contentEnc,
      i.contentSha256,
      i.model,
      i.tokensIn,
      i.tokensOut,
    ]),
  );
}

function streamKey(stream: AuditStream): string {
  switch (stream.kind) {
    case 'tenant':
      return `t:${stream.tenantId}`;
    case 'msp':
      return `m:${stream.mspId}`;
    case 'platform':
      return 'p';
  }
}
