import type { AuditEventRow } from '@isogate/isolation';
import type { AuditEvent } from '../chain/audit-event.js';

/** The event a row holds, in the exact shape its hash was computed over. */
export function eventOfRow(row: AuditEventRow): AuditEvent {
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
