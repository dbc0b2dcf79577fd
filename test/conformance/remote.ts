import { readFileSync } from 'node:fs';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { SLOTS, TENANT_ROLES, type MspLabel, type WorldSpec } from './world.js';

const TENANT_ID = /^[a-z0-9][a-z0-9-]{2,62}$/;
const jwt = z.string().regex(/^[\w-]+\.[\w-]+\.[\w-]+$/, 'must be a JWT');

const tenantEntry = z.strictObject({
  id: z.string().regex(TENANT_ID, 'must match ^[a-z0-9][a-z0-9-]{2,62}$'),
  user: jwt,
  admin: jwt,
  auditor: jwt,
});

/**
 * The tokens file of a remote run. Tokens come from the deployment's identity provider, so
 * the operator mints them beforehand: an operator token per MSP (optional here when given on
 * the command line) and a user, admin and auditor token for each of three tenant ids that do
 * not exist yet (`a1`, `a2` in MSP A; `b1` in MSP B). The run creates those tenants with the
 * operator tokens and deletes them at the end.
 */
const tokensFile = z.strictObject({
  operators: z.strictObject({ A: jwt.optional(), B: jwt.optional() }).optional(),
  tenants: z.strictObject({ a1: tenantEntry, a2: tenantEntry, b1: tenantEntry }),
});

/** What a remote run was given on the command line. */
export interface RemoteArgs {
  readonly tokensFile: string;
  readonly operatorA: string | undefined;
  readonly operatorB: string | undefined;
}

function claims(token: string): Record<string, unknown> {
  try {
    return decodeJwt(token);
  } catch {
    return {};
  }
}

const rolesOf = (token: string) => {
  const roles = claims(token).roles;
  return Array.isArray(roles) ? roles.map(String) : [];
};

/** Checks that each token says what its place in the file says; returns the problems. */
function claimProblems(spec: WorldSpec): string[] {
  const problems: string[] = [];
  const msps: Partial<Record<MspLabel, unknown>> = {};
  for (const label of ['A', 'B'] as const) {
    const token = spec.operators[label];
    msps[label] = claims(token).msp_id;
    if (!rolesOf(token).includes('operator') || typeof msps[label] !== 'string') {
      problems.push(`operator token ${label}: needs the operator role and an msp_id claim`);
    }
  }
  if (msps.A !== undefined && msps.A === msps.B) {
    problems.push('the two operator tokens must belong to two different MSPs');
  }
  for (const { slot } of SLOTS) {
    const tenant = spec.tenants[slot];
    for (const role of TENANT_ROLES) {
      const token = tenant[role];
      if (claims(token).tenant_id !== tenant.id || !rolesOf(token).includes(role)) {
        problems.push(`tenants.${slot}.${role}: needs tenant_id ${tenant.id} and the ${role} role`);
      }
    }
  }
  const ids = new Set(SLOTS.map(({ slot }) => spec.tenants[slot].id));
  if (ids.size !== SLOTS.length) problems.push('the three tenant ids must differ');
  return problems;
}

/** Reads and checks the tokens of a remote run; throws with every problem found. */
export function remoteSpec(args: RemoteArgs): WorldSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(args.tokensFile, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read ${args.tokensFile}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const parsed = tokensFile.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`${args.tokensFile}: ${issues.join('; ')}`);
  }
  const operatorA = args.operatorA ?? parsed.data.operators?.A;
  const operatorB = args.operatorB ?? parsed.data.operators?.B;
  if (operatorA === undefined || operatorB === undefined) {
    throw new Error('two operator tokens are needed: --operator-token-a and --operator-token-b');
  }
  const spec: WorldSpec = {
    tenants: parsed.data.tenants,
    operators: { A: operatorA, B: operatorB },
  };
  const problems = claimProblems(spec);
  if (problems.length > 0) throw new Error(problems.join('; '));
  return spec;
}
