import {
  AuditCheckpointer,
  openAuditArchive,
  type AuditArchive,
  type AuditLogger,
  type ExportSigner,
} from '@isogate/audit';
import { AuditCheckpointsRepository, type PostgresPools } from '@isogate/isolation';
import type { AuditConfig } from '../config/config.js';

/** The archive that `AUDIT_ARCHIVE_URL` names, or undefined for `none`. */
export function archiveOf(config: AuditConfig, log: AuditLogger): AuditArchive | undefined {
  return openAuditArchive(
    {
      url: config.archiveUrl,
      s3Endpoint: config.archiveS3Endpoint,
      s3Region: config.archiveS3Region,
    },
    log,
  );
}

/**
 * The checkpointer, on the small control pool: its transactions hold a connection while a
 * segment goes to the archive, and must never take one that a request is waiting for.
 */
export function checkpointerOf(
  config: AuditConfig,
  pools: PostgresPools,
  signer: ExportSigner,
  archive: AuditArchive | undefined,
  log: AuditLogger,
): AuditCheckpointer {
  return new AuditCheckpointer(
    {
      checkpoints: new AuditCheckpointsRepository(pools, 'control'),
      signer,
      archive,
      log,
    },
    {
      everyEvents: config.checkpointEveryEvents,
      intervalSeconds: config.checkpointIntervalSeconds,
    },
  );
}
