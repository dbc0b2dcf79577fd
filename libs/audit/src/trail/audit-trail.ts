import type { AuditEventsRepository } from '@isogate/isolation';
import { LRUCache } from 'lru-cache';
import type { AuditDraft, AuditEvent, AuditStream } from '../chain/audit-event.js';
import type { ChainStart } from '../chain/chain-verifier.js';
import type { StagedInteraction } from '../interactions/staged-interaction.js';
import {
  chainKey,
  headAfter,
  sealChain,
  type ChainBatch,
  type ChainOutcome,
  type Pending,
  type SealedChain,
} from './append-batch.js';

/**
 * Where the trail writes: `appendChains` is one round trip and one commit (one autocommit
 * prepared statement) for any number of chains; `ping` checks the connections it uses.
 */
export type AuditAppendStore = Pick<AuditEventsRepository, 'appendChains' | 'ping'>;

/** Tuning of the append path; the defaults suit one gateway process. */
export interface AuditTrailOptions {
  readonly clock?: () => Date;
  /** Statements in flight at once (each holds one connection until it commits). */
  readonly maxStatements?: number;
  /** Events of one chain in one statement. */
  readonly maxChainEvents?: number;
  /** Events of all chains in one statement. */
  readonly maxStatementEvents?: number;
}

/** Rounds of "the head moved, seal again" before an append gives up (another writer raced). */
const MAX_ROUNDS = 8;

/**
 * Appends events to their chain, durably (`synchronous_commit` on) before `append` resolves.
 *
 * Each write is one statement (`audit_append`, one round trip, one commit) that may extend
 * several chains. The process remembers each chain's head, seals events on it, and the database
 * writes them only if that is still the head, under the chain's append lock; otherwise it answers
 * the current head and the events are sealed again (another gateway process appended meanwhile).
 * The insert trigger still refuses any event that is not exactly head + 1, so no fork or gap can
 * be committed. Within a process a chain has at most one statement in flight; appends arriving
 * meanwhile, to any chain, go into the next statement together (group commit).
 */
export class AuditTrail {
  readonly #waiting = new Map<string, { stream: AuditStream; pending: Pending[] }>();
  readonly #inFlight = new Set<string>();
  readonly #heads = new LRUCache<string, ChainStart>({ max: 100_000 });
  readonly #clock: () => Date;
  readonly #maxStatements: number;
  readonly #maxChainEvents: number;
  readonly #maxStatementEvents: number;
  #statements = 0;

  constructor(
    private readonly store: AuditAppendStore,
    options: AuditTrailOptions = {},
  ) {
    this.#clock = options.clock ?? (() => new Date());
    this.#maxStatements = options.maxStatements ?? 4;
    this.#maxChainEvents = options.maxChainEvents ?? 200;
    this.#maxStatementEvents = options.maxStatementEvents ?? 1000;
  }

  /** Appends one event (and the interactions it covers) to `stream`; resolves once committed. */
  append(
    stream: AuditStream,
    draft: AuditDraft,
    interactions: readonly StagedInteraction[] = [],
  ): Promise<AuditEvent> {
    return new Promise<AuditEvent>((resolve, reject) => {
      const key = chainKey(stream);
      const waiting = this.#waiting.get(key) ?? { stream, pending: [] };
      waiting.pending.push({ draft, interactions, resolve, reject });
      this.#waiting.set(key, waiting);
      this.dispatch();
    });
  }

  /**
   * Checks, before a request changes anything, that the audit store answers, so a write is
   * refused up front rather than done and then left unrecorded. One round trip on the pool the
   * appends use.
   */
  async preflight(): Promise<void> {
    await this.store.ping();
  }

  /** Starts statements for waiting chains, up to the limit of statements in flight. */
  private dispatch(): void {
    while (this.#statements < this.#maxStatements) {
      const batches = this.takeBatches();
      if (batches.length === 0) return;
      this.#statements += 1;
      void this.write(batches).finally(() => {
        this.#statements -= 1;
        for (const batch of batches) this.#inFlight.delete(batch.key);
        this.dispatch();
      });
    }
  }

  /** The waiting appends of chains that have no statement in flight, oldest chains first. */
  private takeBatches(): ChainBatch[] {
    const batches: ChainBatch[] = [];
    let events = 0;
    for (const [key, waiting] of this.#waiting) {
      if (this.#inFlight.has(key)) continue;
      const items = waiting.pending.splice(0, this.#maxChainEvents);
      if (waiting.pending.length === 0) this.#waiting.delete(key);
      this.#inFlight.add(key);
      batches.push({ key, stream: waiting.stream, items });
      events += items.length;
      if (events >= this.#maxStatementEvents) break;
    }
    // Every statement visits its chains in one order, so two of them never wait on each other.
    return batches.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Writes `batches`, sealing again those whose head moved; settles every append. */
  private async write(batches: readonly ChainBatch[]): Promise<void> {
    let open = batches;
    try {
      for (let round = 0; open.length > 0; round += 1) {
        if (round === MAX_ROUNDS) throw new Error('audit chain head kept moving; append refused');
        const ts = this.#clock().toISOString();
        const sealed = open.flatMap((batch) => this.seal(batch, ts));
        open = sealed.map((s) => s.batch);
        if (sealed.length === 0) return;
        const outcomes = await this.store.appendChains(sealed.map((s) => s.payload));
        open = sealed.flatMap((s, i) => this.settle(s, outcomes[i]));
      }
    } catch (error) {
      // Whether the statement committed is unknown: forget the heads, refuse the appends.
      for (const batch of open) {
        this.#heads.delete(batch.key);
        for (const pending of batch.items) pending.reject(error);
      }
    }
  }

  /** A batch sealed on its known head; one that cannot be sealed is refused alone. */
  private seal(batch: ChainBatch, ts: string): SealedChain[] {
    try {
      return [sealChain(batch, this.#heads.get(batch.key), ts)];
    } catch (error) {
      for (const pending of batch.items) pending.reject(error);
      return [];
    }
  }

  /** Settles a chain's appends from its outcome; answers the batch again when it must be resealed. */
  private settle(sealed: SealedChain, outcome: ChainOutcome | undefined): ChainBatch[] {
    const { batch } = sealed;
    if (outcome?.status === 'stale') {
      this.#heads.set(batch.key, { seq: Number(outcome.seq), hash: outcome.hash });
      return [batch];
    }
    if (outcome?.status === 'ok') {
      const head = headAfter(sealed);
      if (head !== undefined) this.#heads.set(batch.key, head);
      batch.items.forEach((pending, i) => pending.resolve(sealed.events[i] as AuditEvent));
      return [];
    }
    this.#heads.delete(batch.key);
    const error = new Error(
      outcome === undefined
        ? 'audit append answered nothing for a chain'
        : `audit append refused (${outcome.code}): ${outcome.message}`,
    );
    for (const pending of batch.items) pending.reject(error);
    return [];
  }
}
