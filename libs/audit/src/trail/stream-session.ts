import {
  type ControlDb,
  TenantContext,
  type TenantDb,
  type CallerContext,
  type SqlSession,
} from '@isogate/isolation';
import { PLATFORM_SCOPE, type AuditStream } from '../chain/audit-event.js';

/**
 * Runs `fn` in a transaction scoped to the chain of `stream` only, under a context of its own
 * (never the caller's, so a batch written for one request is scoped by its stream alone).
 * Tenant chains use the tenant's row policy; MSP chains and the platform stream use the MSP
 * policy of `audit_control_events`, the platform under a scope no token can name.
 */
export function runInStream<T>(
  tenantDb: TenantDb,
  controlDb: ControlDb,
  stream: AuditStream,
  fn: (session: SqlSession) => Promise<T>,
): Promise<T> {
  const base = { subject: 'isogate-audit', roles: [], requestId: 'audit' } as const;
  if (stream.kind === 'tenant') {
    const context: CallerContext = { kind: 'tenant', tenantId: stream.tenantId, ...base };
    return TenantContext.run(context, () => tenantDb.transaction(fn));
  }
  const mspId = stream.kind === 'msp' ? stream.mspId : PLATFORM_SCOPE;
  const context: CallerContext = { kind: 'operator', mspId, ...base };
  return TenantContext.run(context, () => controlDb.mspTransaction(fn));
}
