import { SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { DEFAULT_MAX_TENANTS } from '../connections/tenant-connections.js';
import { collectionOf } from '../provisioning/store-names.js';

/** How tenant tokens are minted and kept. */
export interface QdrantTokensOptions {
  /** Qdrant's API key: with JWT RBAC on, Qdrant accepts HS256 tokens signed with it. */
  readonly apiKey: string;
  /** Lifetime of a token (default one hour). */
  readonly lifetimeSeconds?: number;
  /** Tenants whose token is kept for reuse (default 256). */
  readonly maxTenants?: number;
}

/**
 * Qdrant JWTs that grant `rw` on one collection of one tenant (`t_<tenant>`, or a later
 * generation of it) and nothing else, so Qdrant itself refuses any other collection, and lists
 * only that one. A token is reused until
 * a fifth of its lifetime is left, then a new one is minted, so none expires in flight.
 */
export class QdrantTokens {
  readonly #secret: Uint8Array;
  readonly #lifetime: number;
  readonly #cache: LRUCache<string, string>;

  constructor(options: QdrantTokensOptions) {
    this.#secret = new TextEncoder().encode(options.apiKey);
    this.#lifetime = options.lifetimeSeconds ?? 3_600;
    this.#cache = new LRUCache<string, string>({
      max: options.maxTenants ?? DEFAULT_MAX_TENANTS,
      ttl: Math.floor(this.#lifetime * 0.8) * 1_000,
    });
  }

  /**
   * The token of the tenant's collection of `generation`, minted when none is cached or it is
   * close to expiry.
   */
  async forTenant(tenantId: string, generation = 0): Promise<string> {
    const key = `${tenantId}:${generation}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    const collection = collectionOf(tenantId, generation);
    const token = await new SignJWT({ access: [{ collection, access: 'rw' }] })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setExpirationTime(Math.floor(Date.now() / 1_000) + this.#lifetime)
      .sign(this.#secret);
    this.#cache.set(key, token);
    return token;
  }
}
