import { createHash } from 'node:crypto';
import {
  AuditCheckpointer,
  openAuditArchive,
  type AuditArchive,
  type AuditLogger,
  type AuditStatement,
  type ExportSigner,
} from '@isogate/audit';
import { TenantDb, type PostgresPools } from '@isogate/isolation';
import type { AuditConfig } from '../config/config.js';

/**
 * One autocommit statement on `pool` (the audit trail's and checkpointer's round trip), as a
 * named prepared statement: each connection parses and plans it once, not on every append.
 */
export function statementOn(pool: PostgresPools['gateway']): AuditStatement {
  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (name === undefined) {
      name = `isogate_audit_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
      names.set(text, name);
    }
    return name;
  };
  return async <Row extends object>(text: string, values: readonly unknown[] = []) =>
    (await pool.query<Row>({ name: nameOf(text), text, values: [...values] })).rows;
}

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
      db: new TenantDb(pools.control),
      statement: statementOn(pools.control),
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
