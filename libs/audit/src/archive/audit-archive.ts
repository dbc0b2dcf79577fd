import { IsogateError, TENANT_ID_PATTERN } from '@isogate/isolation';
import { canonicalJson, sha256Hex } from '../chain/canonical.js';
import type { Checkpoint } from '../trail/audit-reader.js';

/**
 * A checkpoint as the archive keeps it, next to its segment. `signature` covers
 * `checkpointStatement(tenant_id, ...)` like the database row; the other fields locate and
 * describe the segment (its events chain from `prev_hash` to `head_hash`, so they need no
 * signature of their own).
 */
export interface ArchivedCheckpoint extends Checkpoint {
  readonly tenant_id: string;
  readonly first_seq: number;
  readonly prev_hash: string;
  readonly segment: string;
  readonly segment_sha256: string;
}

/** A segment and its checkpoint, ready to be archived. */
export interface SegmentWrite {
  readonly tenantId: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** The events, one canonical JSON line each (the JSONL export format, without a manifest). */
  readonly jsonl: Buffer;
  readonly checkpoint: ArchivedCheckpoint;
  /** Until when the store must refuse to delete or overwrite the objects (where it can). */
  readonly retainUntil: Date;
}

/** A segment found in the archive. */
export interface ArchivedSegment {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly segmentKey: string;
  readonly sha256: string;
  readonly checkpoint: ArchivedCheckpoint | undefined;
}

/** Where the archive's messages go (a pino logger fits). */
export interface AuditLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** An object was already there with other bytes: the archive is never overwritten. */
export class ArchiveConflictError extends Error {
  constructor(readonly key: string) {
    super(`the archive already holds different bytes at ${key}`);
    this.name = 'ArchiveConflictError';
  }
}

const SEQ_DIGITS = 16;

/** `<tenant>/<first>-` : the start of the keys of the segment that begins at `firstSeq`. */
export function segmentPrefix(tenantId: string, firstSeq: number): string {
  if (!TENANT_ID_PATTERN.test(tenantId))
    throw new IsogateError('internal_error', 'Not a tenant id');
  return `${tenantId}/${padSeq(firstSeq)}-`;
}

/** `<tenant>/<first>-<last>` with zero-padded seqs, so keys sort in chain order. */
export function segmentStem(tenantId: string, firstSeq: number, lastSeq: number): string {
  return `${segmentPrefix(tenantId, firstSeq)}${padSeq(lastSeq)}`;
}

const padSeq = (seq: number) => String(seq).padStart(SEQ_DIGITS, '0');

/**
 * The write-once archive of segments and checkpoints. Keys depend on the seq range only, so a
 * retry writes the same keys; an object that exists is compared, never replaced (a different
 * one is an `ArchiveConflictError`). Subclasses store objects (a directory, an S3 bucket).
 */
export abstract class AuditArchive {
  /** Where the archive is, for logs (never credentials). */
  abstract readonly location: string;

  /** Keys that start with `prefix`. */
  protected abstract list(prefix: string): Promise<string[]>;
  /** An object's bytes, or undefined when there is none. */
  abstract read(key: string): Promise<Buffer | undefined>;
  /** Creates an object durably unless one exists ('exists'); never replaces one. */
  protected abstract create(
    key: string,
    body: Buffer,
    retainUntil: Date,
  ): Promise<'created' | 'exists'>;

  /** The segment that starts at `firstSeq`, if one was written (a retry must reuse its range). */
  async find(tenantId: string, firstSeq: number): Promise<ArchivedSegment | undefined> {
    const keys = await this.list(segmentPrefix(tenantId, firstSeq));
    const segmentKey = keys.find((k) => k.endsWith('.jsonl'));
    if (segmentKey === undefined) return undefined;
    const lastSeq = Number(/-(\d+)\.jsonl$/.exec(segmentKey)?.[1]);
    const bytes = await this.read(segmentKey);
    if (bytes === undefined || !Number.isSafeInteger(lastSeq)) return undefined;
    const checkpointBytes = await this.read(checkpointKeyOf(segmentKey));
    return {
      firstSeq,
      lastSeq,
      segmentKey,
      sha256: sha256Hex(bytes),
      checkpoint:
        checkpointBytes === undefined
          ? undefined
          : (JSON.parse(checkpointBytes.toString('utf8')) as ArchivedCheckpoint),
    };
  }

  /** Writes the segment, then its checkpoint; answers the segment's key once both are durable. */
  async write(segment: SegmentWrite): Promise<string> {
    const stem = segmentStem(segment.tenantId, segment.firstSeq, segment.lastSeq);
    const checkpoint = Buffer.from(`${canonicalJson(segment.checkpoint)}\n`, 'utf8');
    await this.writeOnce(`${stem}.jsonl`, segment.jsonl, segment.retainUntil);
    await this.writeOnce(`${stem}.checkpoint.json`, checkpoint, segment.retainUntil);
    return `${stem}.jsonl`;
  }

  private async writeOnce(key: string, body: Buffer, retainUntil: Date): Promise<void> {
    if ((await this.create(key, body, retainUntil)) === 'created') return;
    const existing = await this.read(key);
    if (existing === undefined || !existing.equals(body)) throw new ArchiveConflictError(key);
  }
}

/** The checkpoint object next to a segment. */
export function checkpointKeyOf(segmentKey: string): string {
  return segmentKey.replace(/\.jsonl$/, '.checkpoint.json');
}
