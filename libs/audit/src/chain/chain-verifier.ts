import type { AuditEvent } from './audit-event.js';
import { eventHash, GENESIS_HASH } from './canonical.js';

/** What checking a chain found. `first_broken_seq` is null when the chain holds. */
export interface ChainReport {
  readonly valid: boolean;
  readonly events: number;
  readonly head_hash: string | null;
  readonly first_broken_seq: number | null;
}

/** Where a chain (or a piece of one) starts: after seq `seq`, whose hash was `hash`. */
export interface ChainStart {
  readonly seq: number;
  readonly hash: string;
}

/**
 * Checks a chain one event at a time, in constant memory: consecutive seq, each `prev_hash`
 * equal to the previous event's hash, and each hash recomputed. Optional anchors (checkpoint
 * seq → hash, and the head the database keeps) catch a tail that was cut off.
 */
export class ChainVerifier {
  #expectedSeq: number;
  #prevHash: string;
  #events = 0;
  #broken: number | null = null;
  #lastHash: string | null = null;

  constructor(
    start: ChainStart = { seq: 0, hash: GENESIS_HASH },
    private readonly anchors: ReadonlyMap<number, string> = new Map(),
  ) {
    this.#expectedSeq = start.seq + 1;
    this.#prevHash = start.hash;
  }

  /** Feeds the next event; returns false once the chain is broken. */
  push(event: AuditEvent): boolean {
    this.#events += 1;
    if (this.#broken !== null) return false;
    const anchor = this.anchors.get(event.seq);
    if (event.seq !== this.#expectedSeq) {
      this.#broken = Math.min(this.#expectedSeq, event.seq);
    } else if (
      event.prev_hash !== this.#prevHash ||
      eventHash(event) !== event.hash ||
      (anchor !== undefined && anchor !== event.hash)
    ) {
      this.#broken = event.seq;
    } else {
      this.#expectedSeq += 1;
      this.#prevHash = event.hash;
      this.#lastHash = event.hash;
      return true;
    }
    return false;
  }

  /**
   * The report once every event was fed. `bounds` say where the chain is known to end: at
   * least at `atLeast` (a head read before the events: ending earlier means its tail was cut),
   * at most at `atMost` (a head read after them: events beyond it were never appended).
   */
  finish(bounds: { readonly atLeast?: number; readonly atMost?: number } = {}): ChainReport {
    let broken = this.#broken;
    const lastSeq = this.#expectedSeq - 1;
    if (broken === null) {
      const anchoredBeyond = [...this.anchors.keys()].some((seq) => seq > lastSeq);
      if (anchoredBeyond || (bounds.atLeast !== undefined && bounds.atLeast > lastSeq))
        broken = lastSeq + 1;
      else if (bounds.atMost !== undefined && bounds.atMost < lastSeq) broken = bounds.atMost + 1;
    }
    return {
      valid: broken === null,
      events: this.#events,
      head_hash: this.#lastHash,
      first_broken_seq: broken,
    };
  }
}
