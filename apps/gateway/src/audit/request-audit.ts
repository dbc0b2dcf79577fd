import type { AuditDraft, AuditOutcome, AuditScope, AuditStream } from '@isogate/audit';
import { TENANT_ID_PATTERN, type CallerContext, type WaitClock } from '@isogate/isolation';
import { decodeJwt } from 'jose';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { VerifiedIdentity } from '../auth/claims.js';

/** A request as the audit hooks see it: what the guards learnt, and its audit scope. */
export type AuditedRequest = FastifyRequest & {
  user?: VerifiedIdentity;
  caller?: CallerContext;
  auditScope?: AuditScope;
  /** Time this request spent waiting on stores and models (`x-gateway-overhead-ms`). */
  waitClock?: WaitClock;
};

/** Whether a path is part of the audited API (every `/v1` route, matched or not). */
export function isAuditedPath(url: string): boolean {
  const path = url.split('?', 1)[0] ?? '';
  return path === '/v1' || path.startsWith('/v1/');
}

/**
 * Whose chain a request's event goes to. A verified caller's own tenant or MSP; a verified
 * token refused for its tenant's state (403) still names a tenant that exists; everything else
 * (no token, a token that failed verification or names no tenant, an unmatched route, where no
 * guard ran) has no trusted tenant and goes to the platform stream.
 */
export function streamOf(request: AuditedRequest, status: number): AuditStream {
  const identity = request.caller ?? (status === 403 ? request.user : undefined);
  if (identity === undefined) return { kind: 'platform' };
  return identity.kind === 'tenant'
    ? { kind: 'tenant', tenantId: identity.tenantId }
    : { kind: 'msp', mspId: identity.mspId };
}

/** The event a finished request is recorded as. */
export function draftOf(
  request: AuditedRequest,
  reply: FastifyReply,
  payload: unknown,
  scope: AuditScope,
  stream: AuditStream,
): AuditDraft {
  const status = reply.statusCode;
  const identity = stream.kind === 'platform' ? undefined : (request.caller ?? request.user);
  const route = request.routeOptions.url;
  const path = (request.url.split('?', 1)[0] ?? '').slice(0, 1024);
  const params = request.params as Record<string, string | undefined> | undefined;
  const details: Record<string, unknown> = { ...scope.details };
  if (status >= 400) details.error = errorCodeOf(payload);
  if (stream.kind === 'platform') {
    const claimed = unverifiedClaims(request.headers.authorization);
    if (claimed !== undefined) details.unverified_claims = claimed;
  }
  const named = route?.startsWith('/v1/tenants/:id') ? params?.id : undefined;
  return {
    id: scope.eventId,
    actor: identity?.subject ?? 'anonymous',
    roles: identity?.roles ?? [],
    action: scope.action ?? `${request.method} ${route ?? '(unmatched)'}`,
    resource: scope.resource ?? path,
    outcome: outcomeOf(status),
    status,
    request_id: request.id,
    details,
    // Only a well-formed id names a tenant; anything else is in `resource`, as sent.
    tenant_id: named !== undefined && TENANT_ID_PATTERN.test(named) ? named : null,
  };
}

function outcomeOf(status: number): AuditOutcome {
  if (status >= 500) return 'error';
  return status >= 400 ? 'denied' : 'ok';
}

/** The stable error code of an error body, or null; never its message. */
function errorCodeOf(payload: unknown): string | null {
  if (typeof payload !== 'string' || !payload.startsWith('{')) return null;
  try {
    const code = (JSON.parse(payload) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code.slice(0, 64) : null;
  } catch {
    return null;
  }
}

/**
 * What a refused token claimed to be, for the platform stream's forensics. Never trusted and
 * never used to choose a chain: the signature did not verify (or was not checked).
 */
function unverifiedClaims(header: string | undefined): Record<string, string> | undefined {
  const token = /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1];
  if (token === undefined) return undefined;
  try {
    const claims = decodeJwt(token);
    const picked: Record<string, string> = {};
    for (const name of ['iss', 'sub', 'tenant_id', 'msp_id'] as const) {
      const value = claims[name];
      if (typeof value === 'string') picked[name] = value.slice(0, 200);
    }
    return picked;
  } catch {
    return { malformed: 'true' };
  }
}
