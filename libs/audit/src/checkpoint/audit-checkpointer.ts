import {
  TenantContext,
  type AuditCheckpointsRepository,
  type CallerContext,
  type CheckpointSession,
} from '@isogate/isolation';
import { sha256Hex } from '../chain/canonical.js';
import type { ChainStart } from '../chain/chain-verifier.js';
import {
  ArchiveConflictError,
  segmentStem,
  type ArchivedCheckpoint,
  type ArchivedSegment,
  type AuditArchive,
  type AuditLogger,
} from '../archive/audit-archive.js';
import type { ExportSigner } from '../export/export-signer.js';
import { checkpointStatement } from '../verify/chain-verification.js';
import { chainState, readSegment } from './chain-segment.js';

/** When a chain gets a checkpoint: every N events, or when its oldest unsigned event is old. */
export interface CheckpointPolicy {
  /** Events since the last checkpoint that make one due; 0 turns this rule off. */
  readonly everyEvents: number;
  /** Age (seconds) of the first event after the last checkpoint that makes one due; 0: off. */
  readonly intervalSeconds: number;
  /** Most events in one segment (a longer backlog becomes several segments). */
  readonly maxSegmentEvents?: number;
  /** Most chains one run looks at (the rest wait for the next run). */
  readonly maxChainsPerRun?: number;
}

/** A checkpoint that a run committed. */
export interface CheckpointWritten {
  readonly tenant_id: string;
  readonly first_seq: number;
  readonly seq: number;
  readonly head_hash: string;
  readonly archive_key: string | null;
}

/** What the checkpointer needs. */
export interface AuditCheckpointerDeps {
  /** Checkpoint reads and writes, preferably on a pool that request traffic does not use. */
  readonly checkpoints: AuditCheckpointsRepository;
  readonly signer: ExportSigner;
  /** Undefined when the deployment chose to run without an archive. */
  readonly archive: AuditArchive | undefined;
  readonly log: AuditLogger;
  readonly clock?: () => Date;
}

const DAY_MS = 86_400_000;
const SEGMENTS_PER_CHAIN_PER_RUN = 10;

/**
 * Signs checkpoints of tenant chains and archives each with its segment: the events since the
 * previous checkpoint, as export-format JSONL. Per segment, in one transaction that holds the
 * chain's checkpoint lock (so one process at a time works on a chain): read the events, check
 * they chain from the previous checkpoint (a broken chain is never signed), sign, write segment
 * and checkpoint to the archive durably, and only then commit the checkpoint row. A retry finds
 * the segment that starts where the last checkpoint ends and reuses its range and signature, so
 * the archive never holds two segments for one seq, nor a gap.
 */
export class AuditCheckpointer {
  readonly #clock: () => Date;
  /** Chains found broken, by head seq: not read again until they grow. */
  readonly #broken = new Map<string, number>();

  constructor(
    private readonly deps: AuditCheckpointerDeps,
    private readonly policy: CheckpointPolicy,
  ) {
    this.#clock = deps.clock ?? (() => new Date());
  }

  /** One run: asks which chains are due (one statement), then checkpoints each of them. */
  async runOnce(options: { readonly only?: readonly string[] } = {}): Promise<CheckpointWritten[]> {
    const due = await this.deps.checkpoints.dueChains({
      everyEvents: this.policy.everyEvents,
      intervalSeconds: this.policy.intervalSeconds,
      limit: this.policy.maxChainsPerRun ?? 100,
      ...(options.only !== undefined ? { only: options.only } : {}),
    });
    const written: CheckpointWritten[] = [];
    for (const { tenantId, headSeq } of due) {
      if (this.#broken.get(tenantId) === headSeq) continue;
      try {
        written.push(...(await this.checkpointTenant(tenantId)));
      } catch (error) {
        this.deps.log.error(
          { tenant_id: tenantId, err: error instanceof Error ? error.message : String(error) },
          'audit checkpoint failed; the next run retries it',
        );
      }
    }
    return written;
  }

  /** Checkpoints whatever is new in one tenant's chain, due or not (a few segments at most). */
  async checkpointTenant(tenantId: string): Promise<CheckpointWritten[]> {
    const written: CheckpointWritten[] = [];
    const context: CallerContext = {
      kind: 'tenant',
      tenantId,
      subject: 'isogate-audit-checkpointer',
      roles: [],
      requestId: 'audit-checkpoint',
    };
    for (let i = 0; i < SEGMENTS_PER_CHAIN_PER_RUN; i += 1) {
      const one = await TenantContext.run(context, () =>
        this.deps.checkpoints.inChainTransaction((s) => this.checkpointSegment(s, tenantId)),
      );
      if (one === undefined) break;
      written.push(one);
    }
    return written;
  }

  private async checkpointSegment(
    session: CheckpointSession,
    tenantId: string,
  ): Promise<CheckpointWritten | undefined> {
    if (!(await session.tryLockChain())) return undefined; // another process is on it
    const state = await chainState(session);
    if (state === undefined || state.headSeq <= state.start.seq) return undefined;
    const { start, headSeq } = state;
    const archive = this.deps.archive;
    const found = archive === undefined ? undefined : await archive.find(tenantId, start.seq + 1);
    const lastSeq =
      found?.lastSeq ?? Math.min(headSeq, start.seq + (this.policy.maxSegmentEvents ?? 10_000));
    if (lastSeq > headSeq)
      throw new Error(
        `the archive holds events up to seq ${lastSeq}; the chain ends at ${headSeq}`,
      );
    const { jsonl, headHash } = await this.segment(session, tenantId, start, lastSeq, headSeq);
    if (found !== undefined && found.sha256 !== sha256Hex(jsonl))
      throw new ArchiveConflictError(found.segmentKey);
    const retentionDays = state.retentionDays;
    const checkpoint =
      this.reusable(found, tenantId, lastSeq, headHash) ??
      this.sign(tenantId, start, lastSeq, headHash, jsonl);
    const archiveKey =
      archive === undefined
        ? null
        : await archive.write({
            tenantId,
            firstSeq: start.seq + 1,
            lastSeq,
            jsonl,
            checkpoint,
            retainUntil: new Date(this.#clock().getTime() + retentionDays * DAY_MS),
          });
    await session.recordPeriodic({
      seq: lastSeq,
      head_hash: headHash,
      ts: checkpoint.ts,
      key_id: checkpoint.key_id,
      signature: checkpoint.signature,
      archive_key: archiveKey,
      retention_days: retentionDays,
    });
    return {
      tenant_id: tenantId,
      first_seq: start.seq + 1,
      seq: lastSeq,
      head_hash: headHash,
      archive_key: archiveKey,
    };
  }

  /** The segment's JSONL once it is shown to chain from `start`; a broken chain is remembered. */
  private async segment(
    session: CheckpointSession,
    tenantId: string,
    start: ChainStart,
    lastSeq: number,
    headSeq: number,
  ): Promise<{ jsonl: Buffer; headHash: string }> {
    const segment = await readSegment(session, start, lastSeq);
    if ('brokenAt' in segment) {
      this.#broken.set(tenantId, headSeq);
      throw new Error(`the chain is broken at seq ${segment.brokenAt}; it is not signed`);
    }
    this.#broken.delete(tenantId);
    return segment;
  }

  /** The checkpoint an earlier attempt archived for this very segment, if it still holds. */
  private reusable(
    found: ArchivedSegment | undefined,
    tenantId: string,
    seq: number,
    headHash: string,
  ): ArchivedCheckpoint | undefined {
    const c = found?.checkpoint;
    if (c === undefined || c.tenant_id !== tenantId || c.seq !== seq || c.head_hash !== headHash)
      return undefined;
    return this.deps.signer.verify(checkpointStatement(tenantId, c), c.signature) ? c : undefined;
  }

  private sign(
    tenantId: string,
    start: ChainStart,
    seq: number,
    headHash: string,
    jsonl: Buffer,
  ): ArchivedCheckpoint {
    const unsigned = {
      seq,
      head_hash: headHash,
      ts: this.#clock().toISOString(),
      kind: 'periodic' as const,
      key_id: this.deps.signer.keyId,
    };
    return {
      ...unsigned,
      tenant_id: tenantId,
      signature: this.deps.signer.sign(checkpointStatement(tenantId, unsigned)),
      first_seq: start.seq + 1,
      prev_hash: start.hash,
      segment: `${segmentStem(tenantId, start.seq + 1, seq)}.jsonl`,
      segment_sha256: sha256Hex(jsonl),
    };
  }
}
