import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Algorithm } from 'jsonwebtoken';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { identityOf, type VerifiedIdentity } from './claims.js';
import {
  keySourceOf,
  verifyToken,
  CLOCK_TOLERANCE_SECONDS,
  type KeySource,
} from './token-verifier.js';

type VerifierCallback = (error: Error | null, payload?: unknown) => void;
interface VerifierOptions {
  issuer: string;
  audience: string;
  algorithms: string[];
}

/**
 * passport-jwt verifies through `jsonwebtoken`, which has no EdDSA. Its documented hook,
 * `Strategy.JwtVerifier`, is pointed at jose instead; passport-jwt still extracts the token and
 * passes the strategy's top-level issuer, audience and algorithms (given top-level because
 * passport-jwt drops them when they only sit inside `jsonWebTokenOptions`).
 */
(Strategy as unknown as { JwtVerifier: unknown }).JwtVerifier = (
  token: string,
  keys: KeySource,
  options: VerifierOptions,
  done: VerifierCallback,
): void => {
  verifyToken(token, keys, options).then(
    (payload) => done(null, payload),
    (error: unknown) => done(error instanceof Error ? error : new Error('invalid token')),
  );
};

/** Verifies bearer tokens and turns their claims into an identity. */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const keys = keySourceOf(config.auth);
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // The key source travels to the jose verifier above untouched; passport-jwt's types only
      // know strings and buffers, which is what jsonwebtoken would have wanted.
      secretOrKeyProvider: (
        _request: unknown,
        _token: unknown,
        done: (e: Error | null, k?: string) => void,
      ) => done(null, keys as unknown as string),
      issuer: config.auth.issuer,
      audience: config.auth.audience,
      // jsonwebtoken's Algorithm type has no EdDSA; jose, which does the verifying, has.
      algorithms: [...config.auth.algorithms] as Algorithm[],
      ignoreExpiration: false,
      jsonWebTokenOptions: { clockTolerance: CLOCK_TOLERANCE_SECONDS },
    });
  }

  validate(payload: unknown): VerifiedIdentity | false {
    return identityOf(payload) ?? false;
  }
}
