/** How a request ended, as the `outcome` column of an audit event holds it. */
export type AuditOutcomeValue = 'ok' | 'denied' | 'error';

/** An audit event row as PostgreSQL returns it (bigint as text, timestamptz as Date). */
export interface AuditEventRow {
  readonly id: string;
  readonly seq: string;
  readonly ts: Date;
  readonly tenant_id: string | null;
  readonly msp_id: string | null;
  readonly actor: string;
  readonly roles: string[];
  readonly action: string;
  readonly resource: string | null;
  readonly outcome: AuditOutcomeValue;
  readonly status: number;
  readonly request_id: string;
  readonly details: Record<string, unknown>;
  readonly prev_hash: string;
  readonly hash: string;
}

/** The column order of an event row, shared by the writer, the readers and the exports. */
export const EVENT_FIELDS = [
  'id',
  'seq',
  'ts',
  'tenant_id',
  'msp_id',
  'actor',
  'roles',
  'action',
  'resource',
  'outcome',
  'status',
  'request_id',
  'details',
  'prev_hash',
  'hash',
] as const satisfies readonly (keyof AuditEventRow)[];

/** The columns of `AuditEventRow`, for the repositories that read events. */
export const EVENT_COLUMNS = EVENT_FIELDS.join(', ');
