import type {
  AuditCheckpointsRepository,
  AuditEventQuery,
  AuditEventsRepository,
} from '@isogate/isolation';
import type { AuditEvent } from '../chain/audit-event.js';
import type { ChainStart } from '../chain/chain-verifier.js';
import { eventOfRow } from './event-rows.js';

/** Which events of the current tenant's chain to read. Times are ISO 8601; `to` is exclusive. */
export type EventFilter = AuditEventQuery;

/** A signed checkpoint of the current tenant's chain. */
export interface Checkpoint {
  readonly seq: number;
  readonly head_hash: string;
  readonly ts: string;
  readonly kind: 'periodic' | 'prune';
  readonly key_id: string;
  readonly signature: string;
}

const PAGE = 500;

/** Reads the current tenant's audit chain, through the tenant's row-level policy only. */
export class AuditReader {
  constructor(
    private readonly events: AuditEventsRepository,
    private readonly checkpointRows: AuditCheckpointsRepository,
  ) {}

  /** Up to `limit` events matching `filter`, in seq order. */
  async page(filter: EventFilter, limit: number): Promise<AuditEvent[]> {
    return (await this.events.page(filter, limit)).map(eventOfRow);
  }

  /** Every event matching `filter`, in seq order, read page by page (constant memory). */
  async *iterate(filter: EventFilter): AsyncGenerator<AuditEvent> {
    let afterSeq = filter.afterSeq;
    for (;;) {
      const page = await this.page(
        { ...filter, ...(afterSeq !== undefined ? { afterSeq } : {}) },
        PAGE,
      );
      yield* page;
      if (page.length < PAGE) return;
      afterSeq = (page[page.length - 1] as AuditEvent).seq;
    }
  }

  /** Where the chain ends, as the database's head row says (moved only by the insert trigger). */
  async head(): Promise<ChainStart | undefined> {
    return this.events.head();
  }

  /** Every checkpoint of the chain, oldest first. */
  async checkpoints(): Promise<Checkpoint[]> {
    const rows = await this.checkpointRows.list();
    return rows.map((r) => ({ ...r, ts: r.ts.toISOString() }));
  }
}
