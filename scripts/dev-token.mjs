// Development tokens, signed with the local stack's development key (.stack/secrets).
// Production never trusts this key: it is generated per machine and never committed.
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SignJWT } from 'jose';

/** The local stack's generated variables. */
export function stackEnv() {
  const file = resolve(process.cwd(), '.stack/env');
  if (!existsSync(file)) throw new Error('no .stack/env: run `npm run stack:up` first');
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1).trim()]),
  );
}

/** Signs a development token for a tenant (`tenant`) or an MSP (`msp`). */
export async function mintDevToken({ tenant, msp, roles, sub = 'dev-user', ttlSeconds = 3600 }) {
  const env = stackEnv();
  const key = createPrivateKey(readFileSync(env.JWT_DEV_PRIVATE_KEY_FILE, 'utf8'));
  const claims = { roles, ...(tenant !== undefined ? { tenant_id: tenant } : { msp_id: msp }) };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'isogate-dev', typ: 'JWT' })
    .setIssuer(env.JWT_ISSUER)
    .setAudience(env.JWT_AUDIENCE)
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(key);
}
