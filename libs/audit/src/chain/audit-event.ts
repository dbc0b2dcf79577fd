import type { AuditAppendEvent, AuditOutcomeValue } from '@isogate/isolation';

/** How a request ended, as the audit trail records it. */
export type AuditOutcome = AuditOutcomeValue;

/**
 * One audit event as docs/API.md defines it: the row the store appends, without the chain
 * name of an MSP or platform event. `hash` covers every other field, `prev_hash` included, so
 * the chain of one tenant (or MSP, or the platform stream) can be checked link by link.
 */
export type AuditEvent = Omit<AuditAppendEvent, 'scope'>;

/** What a caller of the trail supplies; the trail adds seq, ts, prev_hash and hash. */
export type AuditDraft = Pick<
  AuditEvent,
  'id' | 'actor' | 'roles' | 'action' | 'resource' | 'outcome' | 'status' | 'request_id' | 'details'
> & {
  /** For an MSP's chain: the tenant the operator acted on, when there is one. */
  readonly tenant_id?: string | null;
};

/**
 * Which chain an event extends: a tenant's own; an MSP's, for operator calls; or the platform
 * stream, for calls with no trusted tenant or MSP (a token that failed verification).
 */
export type AuditStream =
  | { readonly kind: 'tenant'; readonly tenantId: string }
  | { readonly kind: 'msp'; readonly mspId: string }
  | { readonly kind: 'platform' };

/**
 * The scope of the platform stream in `audit_control_events`. It starts with a dot, which no
 * tenant or MSP id can (their pattern forbids it), so no token can ever reach it.
 */
export const PLATFORM_SCOPE = '.platform';

export { EVENT_FIELDS } from '@isogate/isolation';
