import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { identityOf, type VerifiedIdentity } from './claims.js';
import {
  CLOCK_TOLERANCE_SECONDS,
  keySourceOf,
  verifyToken,
  type KeySource,
  type VerifyPolicy,
} from './token-verifier.js';

/**
 * How long a verified token is trusted without verifying its signature again. A key removed
 * from the JWKS stops a token it signed within this time; `exp` is checked on every request.
 */
export const VERIFIED_TOKEN_TTL_MS = 60_000;
/** Verified tokens remembered at once (each entry is a digest and an identity). */
const MAX_VERIFIED_TOKENS = 20_000;

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/**
 * Turns an `Authorization` header into the caller's identity, or undefined when it carries no
 * token that verifies (signature, algorithm, issuer, audience, times) and makes an identity.
 *
 * A signature check is the costliest step of an ordinary request, and clients send the same
 * token for many requests, so a token that verified is remembered by its SHA-256 (never the
 * token itself) until its `exp` plus the clock tolerance, or `VERIFIED_TOKEN_TTL_MS`, whichever
 * comes first. Refusals are never remembered: a token whose `nbf` was in the future, or whose
 * key was not yet in the JWKS, is verified afresh on its next use.
 */
@Injectable()
export class BearerAuthenticator {
  readonly #keys: KeySource;
  readonly #policy: VerifyPolicy;
  readonly #verified = new LRUCache<string, VerifiedIdentity>({ max: MAX_VERIFIED_TOKENS });

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.#keys = keySourceOf(config.auth);
    this.#policy = config.auth;
  }

  async authenticate(header: string | undefined): Promise<VerifiedIdentity | undefined> {
    const token = header === undefined ? undefined : BEARER.exec(header)?.[1];
    if (token === undefined) return undefined;
    const digest = createHash('sha256').update(token).digest('base64');
    const known = this.#verified.get(digest);
    if (known !== undefined) return known;
    let claims: Awaited<ReturnType<typeof verifyToken>>;
    try {
      claims = await verifyToken(token, this.#keys, this.#policy);
    } catch {
      return undefined;
    }
    const identity = identityOf(claims);
    if (identity === undefined || typeof claims.exp !== 'number') return undefined;
    const untilExpiry = (claims.exp + CLOCK_TOLERANCE_SECONDS) * 1000 - Date.now();
    const ttl = Math.min(VERIFIED_TOKEN_TTL_MS, Math.floor(untilExpiry));
    // Shared by every request that brings this token: frozen, so none can change it for another.
    const frozen = Object.freeze({ ...identity, roles: Object.freeze([...identity.roles]) });
    if (ttl > 0) this.#verified.set(digest, frozen as VerifiedIdentity, { ttl });
    return frozen as VerifiedIdentity;
  }
}
