import { S3Client } from '@aws-sdk/client-s3';
import { fileURLToPath } from 'node:url';
import type { AuditArchive, AuditLogger } from './audit-archive.js';
import { FileArchive } from './file-archive.js';
import { S3Archive } from './s3-archive.js';

/** How to reach the archive named by `AUDIT_ARCHIVE_URL`. */
export interface ArchiveSettings {
  /** `file:///dir`, `s3://bucket/prefix`; undefined means no archive (an explicit choice). */
  readonly url: string | undefined;
  /** An S3-compatible endpoint other than AWS (path-style addressing). */
  readonly s3Endpoint?: string | undefined;
  readonly s3Region?: string | undefined;
}

/**
 * Opens the archive of `settings`, or answers undefined when there is none. S3 credentials
 * come from the AWS SDK's own chain (environment, profile, instance or task role), never from
 * this configuration.
 */
export function openAuditArchive(
  settings: ArchiveSettings,
  log: AuditLogger,
): AuditArchive | undefined {
  if (settings.url === undefined) return undefined;
  const url = new URL(settings.url);
  if (url.protocol === 'file:') return new FileArchive(fileURLToPath(url));
  if (url.protocol !== 's3:') throw new Error('AUDIT_ARCHIVE_URL must be file:// or s3://');
  const path = decodeURIComponent(url.pathname).replace(/^\/+/, '');
  const client = new S3Client({
    ...(settings.s3Region !== undefined ? { region: settings.s3Region } : {}),
    ...(settings.s3Endpoint !== undefined
      ? { endpoint: settings.s3Endpoint, forcePathStyle: true }
      : {}),
  });
  return new S3Archive({
    client,
    bucket: url.hostname,
    prefix: path === '' || path.endsWith('/') ? path : `${path}/`,
    log,
  });
}
