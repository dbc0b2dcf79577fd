import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';

export type TestAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

interface SigningKey {
  readonly kid: string;
  readonly alg: TestAlgorithm;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

export const TEST_ISSUER = 'https://idp.test.isogate';
export const TEST_AUDIENCE = 'isogate-test';

/**
 * A test identity provider: a JWKS served over HTTP on loopback, and tokens signed with its
 * keys (RS256, ES256 and EdDSA), so the gateway's real JWKS path is exercised.
 */
export class TestIdentityProvider {
  readonly #keys = new Map<TestAlgorithm, SigningKey>();
  #server: Server | undefined;
  /** How many times the JWKS was fetched. */
  fetches = 0;

  static async start(): Promise<TestIdentityProvider> {
    const idp = new TestIdentityProvider();
    for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) await idp.addKey(alg);
    await idp.listen();
    return idp;
  }

  get jwksUrl(): string {
    return `http://127.0.0.1:${(this.#server?.address() as AddressInfo).port}/jwks.json`;
  }

  /** The variables that point a gateway at this provider. */
  get env(): Record<string, string | undefined> {
    return {
      JWT_JWKS_URL: this.jwksUrl,
      JWT_PUBLIC_KEY_FILE: undefined,
      JWT_ISSUER: TEST_ISSUER,
      JWT_AUDIENCE: TEST_AUDIENCE,
    };
  }

  /** The public JWK of one of this provider's keys. */
  publicJwk(alg: TestAlgorithm): JWK {
    return (this.#keys.get(alg) as SigningKey).jwk;
  }

  /** Adds (or rotates to) a fresh key for `alg`, published under a new kid. */
  async addKey(alg: TestAlgorithm): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const kid = `${alg.toLowerCase()}-${Math.random().toString(36).slice(2, 10)}`;
    const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    this.#keys.set(alg, { kid, alg, privateKey, jwk });
    return kid;
  }

  /** A token with sensible defaults; `claims` and `header` override them (undefined removes). */
  async token(
    claims: Record<string, unknown> = {},
    options: { alg?: TestAlgorithm; header?: Record<string, unknown>; expiresIn?: number } = {},
  ): Promise<string> {
    const key = this.#keys.get(options.alg ?? 'ES256') as SigningKey;
    const now = Math.floor(Date.now() / 1000);
    const payload: JWTPayload = {
      iss: TEST_ISSUER,
      aud: TEST_AUDIENCE,
      sub: 'test-user',
      iat: now,
      exp: now + (options.expiresIn ?? 300),
      ...claims,
    };
    for (const [name, value] of Object.entries(payload))
      if (value === undefined) delete payload[name];
    return new SignJWT(payload)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, ...options.header })
      .sign(key.privateKey);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }

  private async listen(): Promise<void> {
    this.#server = createServer((request, response) => {
      if (request.url !== '/jwks.json') {
        response.writeHead(404).end();
        return;
      }
      this.fetches += 1;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ keys: [...this.#keys.values()].map((k) => k.jwk) }));
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
  }
}
