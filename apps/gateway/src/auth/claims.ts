import { z } from 'zod';
import { ROLES, TENANT_ID_PATTERN, type Role } from '@isogate/isolation';

const TENANT_ROLES: readonly Role[] = ['user', 'admin', 'auditor'];

const claimsSchema = z.object({
  sub: z.string().min(1).max(256),
  roles: z.array(z.enum(ROLES)).min(1).max(8),
  tenant_id: z.string().regex(TENANT_ID_PATTERN).optional(),
  msp_id: z.string().regex(TENANT_ID_PATTERN).optional(),
});

/** The identity a verified token carries, before a request id is attached. */
export type VerifiedIdentity =
  | { kind: 'tenant'; tenantId: string; subject: string; roles: Role[] }
  | { kind: 'operator'; mspId: string; subject: string; roles: Role[] };

/**
 * Turns verified claims into an identity, or undefined when they do not make one: tenant roles
 * need a well-formed `tenant_id`, the operator role an `msp_id`, and one token never mixes the
 * two (an operator acting for a tenant would blur whose data a request may reach).
 */
export function identityOf(claims: unknown): VerifiedIdentity | undefined {
  const parsed = claimsSchema.safeParse(claims);
  if (!parsed.success) return undefined;
  const { sub, tenant_id: tenantId, msp_id: mspId } = parsed.data;
  const roles = [...new Set(parsed.data.roles)];
  const tenantRoles = roles.filter((r) => TENANT_ROLES.includes(r));
  const operator = roles.includes('operator');
  if (operator && tenantRoles.length === 0 && mspId !== undefined && tenantId === undefined) {
    return { kind: 'operator', mspId, subject: sub, roles };
  }
  if (!operator && tenantRoles.length > 0 && tenantId !== undefined && mspId === undefined) {
    return { kind: 'tenant', tenantId, subject: sub, roles };
  }
  return undefined;
}
