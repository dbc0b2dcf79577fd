import { createHash } from 'node:crypto';
import {
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { AuditArchive, type AuditLogger } from './audit-archive.js';

/** Where in S3 the archive lives. */
export interface S3ArchiveOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix, empty or ending with `/`. */
  readonly prefix: string;
  readonly log: AuditLogger;
}

/** Error names that mean "this bucket has no Object Lock" (AWS) or "no such feature" (others). */
const NO_OBJECT_LOCK = new Set(['ObjectLockConfigurationNotFoundError', 'NotImplemented']);

/**
 * The archive in an S3 bucket (`s3://bucket/prefix`). When the bucket has Object Lock enabled,
 * every object is written with retention mode COMPLIANCE until the tenant's retention ends: no
 * one, the bucket owner and the root account included, can delete or overwrite that version
 * before then. Without Object Lock the objects are written plainly and this is logged once.
 * An object that exists is never written again (no second version): its existence is checked
 * first, and the write carries `If-None-Match: *` for a racing writer (on stores that honour
 * it). Writes carry a SHA-256 checksum, which S3 verifies and Object Lock requires.
 */
export class S3Archive extends AuditArchive {
  readonly location: string;
  #objectLock: Promise<boolean> | undefined;

  constructor(private readonly options: S3ArchiveOptions) {
    super();
    this.location = `s3://${options.bucket}/${options.prefix}`;
  }

  /** Whether the bucket has Object Lock enabled (asked once; a failed question is asked again). */
  objectLock(): Promise<boolean> {
    this.#objectLock ??= this.detectObjectLock().catch((error: unknown) => {
      this.#objectLock = undefined;
      throw error;
    });
    return this.#objectLock;
  }

  protected async list(prefix: string): Promise<string[]> {
    const answer = await this.options.client.send(
      new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: this.key(prefix) }),
    );
    return (answer.Contents ?? [])
      .map((o) => o.Key)
      .filter((k): k is string => k !== undefined)
      .map((k) => k.slice(this.options.prefix.length));
  }

  async read(key: string): Promise<Buffer | undefined> {
    try {
      const answer = await this.options.client.send(
        new GetObjectCommand({ Bucket: this.options.bucket, Key: this.key(key) }),
      );
      return answer.Body === undefined
        ? Buffer.alloc(0)
        : Buffer.from(await answer.Body.transformToByteArray());
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  protected async create(
    key: string,
    body: Buffer,
    retainUntil: Date,
  ): Promise<'created' | 'exists'> {
    if (await this.exists(key)) return 'exists';
    const input: PutObjectCommandInput = {
      Bucket: this.options.bucket,
      Key: this.key(key),
      Body: body,
      ContentType: key.endsWith('.jsonl') ? 'application/x-ndjson' : 'application/json',
      ChecksumSHA256: createHash('sha256').update(body).digest('base64'),
      IfNoneMatch: '*',
      ...((await this.objectLock())
        ? { ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: retainUntil }
        : {}),
    };
    try {
      await this.options.client.send(new PutObjectCommand(input));
      return 'created';
    } catch (error) {
      if (statusOf(error) === 412) return 'exists';
      throw error;
    }
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.options.client.send(
        new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.key(key) }),
      );
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  private key(key: string): string {
    return `${this.options.prefix}${key}`;
  }

  private async detectObjectLock(): Promise<boolean> {
    try {
      const answer = await this.options.client.send(
        new GetObjectLockConfigurationCommand({ Bucket: this.options.bucket }),
      );
      if (answer.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled') return true;
    } catch (error) {
      if (!NO_OBJECT_LOCK.has((error as Error).name)) throw error;
    }
    this.options.log.warn(
      { archive: this.location },
      'audit archive bucket has no Object Lock: segments are written without retention; enable Object Lock (compliance mode) on the bucket for write-once storage',
    );
    return false;
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}
