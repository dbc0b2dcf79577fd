import type { AuditEvent, AuditOutcome } from '../chain/audit-event.js';

/** An event row as PostgreSQL returns it (bigint as text, timestamptz as Date). */
export interface EventRow {
  id: string;
  seq: string | number;
  ts: Date;
  tenant_id: string | null;
  msp_id: string | null;
  actor: string;
  roles: string[];
  action: string;
  resource: string | null;
  outcome: AuditOutcome;
  status: number;
  request_id: string;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

/** The event a row holds, in the exact shape its hash was computed over. */
export function eventOfRow(row: EventRow): AuditEvent {
  return {
    id: row.id,
    seq: Number(row.seq),
    ts: row.ts.toISOString(),
    tenant_id: row.tenant_id,
    msp_id: row.msp_id,
    actor: row.actor,
    roles: row.roles,
    action: row.action,
    resource: row.resource,
    outcome: row.outcome,
    status: row.status,
    request_id: row.request_id,
    details: row.details,
    prev_hash: row.prev_hash,
    hash: row.hash,
  };
}
