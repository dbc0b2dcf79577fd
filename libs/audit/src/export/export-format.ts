import { EVENT_FIELDS, type AuditEvent } from '../chain/audit-event.js';
import { canonicalJson } from '../chain/canonical.js';

/** Export formats: JSONL (verifiable, one canonical event per line) or CSV (for people). */
export type ExportFormat = 'jsonl' | 'csv';

/** The manifest of one export; it is signed without its `signature`. */
export interface ExportManifest {
  readonly tenant_id: string;
  readonly from: string | null;
  readonly to: string | null;
  readonly count: number;
  readonly first_seq: number | null;
  readonly last_seq: number | null;
  readonly head_hash: string | null;
  readonly sha256: string;
  readonly key_id: string;
  readonly signature: string;
}

/** The JSONL line of an event: its canonical JSON, so a verifier re-hashes exactly it. */
export function jsonlLine(event: AuditEvent): string {
  return `${canonicalJson(event)}\n`;
}

/** The CSV header line. */
export const CSV_HEADER = `${EVENT_FIELDS.join(',')}\r\n`;

/**
 * The CSV line of an event (RFC 4180). `roles` and `details` are JSON. A cell that a
 * spreadsheet would take for a formula gets a leading apostrophe (OWASP CSV injection): the CSV
 * is for reading; the JSONL export is the one to verify events against.
 */
export function csvLine(event: AuditEvent): string {
  return `${EVENT_FIELDS.map((field) => csvCell(event[field])).join(',')}\r\n`;
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text =
    typeof value === 'string'
      ? value
      : typeof value === 'number'
        ? String(value)
        : canonicalJson(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
