import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { AuthConfig } from '../config/config.js';

/** Tolerated clock difference between the identity provider and the gateway. */
export const CLOCK_TOLERANCE_SECONDS = 30;

/** Where verification keys come from: one parsed key, or a JWKS with its own cache. */
export type KeySource = KeyObject | JWTVerifyGetKey;

/**
 * Builds the key source once. Keys are parsed objects, never PEM strings handed to the verifier
 * per request (parsing a PEM costs far more than the verification itself). A JWKS is cached and
 * refetched on an unknown `kid`, at most once every 5 seconds.
 */
export function keySourceOf(auth: AuthConfig): KeySource {
  if (auth.jwksUrl !== undefined) {
    return createRemoteJWKSet(new URL(auth.jwksUrl), {
      cooldownDuration: 5_000,
      cacheMaxAge: 10 * 60_000,
      timeoutDuration: 3_000,
    });
  }
  if (auth.publicKeyFile !== undefined)
    return createPublicKey(readFileSync(auth.publicKeyFile, 'utf8'));
  throw new Error('no JWT key source configured');
}

/** The checks every token must pass, whichever key source is used. */
export interface VerifyPolicy {
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms: readonly string[];
}

/**
 * Verifies signature, algorithm, issuer, audience, `exp` (required), `nbf` and `iat` (neither
 * in the future) with the clock tolerance. `none` and HS* never pass: only the configured
 * asymmetric algorithms are accepted, and a key object of another type does not verify.
 */
export async function verifyToken(
  token: string,
  keys: KeySource,
  policy: VerifyPolicy,
): Promise<JWTPayload> {
  const options = {
    issuer: policy.issuer,
    audience: policy.audience,
    algorithms: [...policy.algorithms],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    requiredClaims: ['exp', 'sub'],
  };
  const { payload } =
    typeof keys === 'function'
      ? await jwtVerify(token, keys, options)
      : await jwtVerify(token, keys, options);
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.iat === 'number' && payload.iat > now + CLOCK_TOLERANCE_SECONDS) {
    throw new Error('token issued in the future');
  }
  return payload;
}
