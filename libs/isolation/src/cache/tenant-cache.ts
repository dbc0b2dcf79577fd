import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { TenantContext } from '../context/tenant-context.js';
import { IsogateError, StoreUnavailableError } from '../errors/isogate-error.js';
import type { MasterKey } from '../keys/master-key.js';
import { tenantNames } from '../provisioning/store-names.js';
import {
  DEFAULT_MAX_TENANTS,
  TenantConnections,
  isAuthFailure,
  isServerReply,
} from '../connections/tenant-connections.js';
import { openTenantRedis } from './redis-connection.js';

/**
 * A key suffix the cache accepts: no spaces, glob characters (`*?[]`), hash-tag braces or control
 * characters, which could widen a pattern or confuse a reader of the keyspace.
 */
const KEY_SUFFIX = /^[A-Za-z0-9:._-]{1,200}$/;

/** A value a Lua script may take as an argument. */
export type CacheScriptArg = string | number;

/** How the tenant cache reaches Redis. */
export interface TenantCacheOptions {
  /** The cache Redis; the credentials used are the tenant's, derived from `masterKey`. */
  readonly url: string;
  readonly masterKey: MasterKey;
  /** Re-creates a tenant's ACL user that the server lost (the provisioner's `ensureCacheUser`). */
  readonly recreateUser: (tenantId: string) => Promise<void>;
  /** Tenants that keep an open connection (default 256); the least recently used is closed. */
  readonly maxTenants?: number;
}

/**
 * The current tenant's Redis keyspace, reached as the tenant's own ACL user, whose key pattern
 * `~t:<tenant>:*` the server enforces. Callers give key suffixes only; the prefix is added here.
 */
export class TenantCache {
  readonly #connections: TenantConnections<Redis>;

  constructor(options: TenantCacheOptions) {
    this.#connections = new TenantConnections<Redis>({
      maxTenants: options.maxTenants ?? DEFAULT_MAX_TENANTS,
      open: (tenantId) =>
        openTenantRedis(
          options.url,
          tenantNames(tenantId).aclUser,
          options.masterKey.storeSecret('redis', tenantId),
        ),
      close: async (redis) => redis.disconnect(),
      recreateUser: options.recreateUser,
    });
  }

  /** The value under `suffix`, or null. */
  async get(suffix: string): Promise<string | null> {
    return this.one(suffix, (redis, key) => redis.get(key));
  }

  /** Stores `value` under `suffix` for `ttlSeconds` (at least one second). */
  async set(suffix: string, value: string, ttlSeconds: number): Promise<void> {
    const ttl = Math.max(1, Math.floor(ttlSeconds));
    await this.one(suffix, (redis, key) => redis.set(key, value, 'EX', ttl));
  }

  /** Removes `suffix`; absent is fine. */
  async del(suffix: string): Promise<void> {
    await this.one(suffix, (redis, key) => redis.del(key));
  }

  /** Adds `by` to the integer under `suffix` and returns the new value. */
  async incrBy(suffix: string, by: number): Promise<number> {
    return this.one(suffix, (redis, key) => redis.incrby(key, by));
  }

  /**
   * Runs a Lua script on keys of the tenant (given as suffixes, passed as KEYS). The server
   * checks every key and command the script touches against the tenant user's ACL. EVALSHA is
   * tried first so the script text crosses the wire once per server, not on every call.
   */
  async eval(
    script: string,
    suffixes: readonly string[],
    args: readonly CacheScriptArg[],
  ): Promise<unknown> {
    const sha = createHash('sha1').update(script).digest('hex');
    return this.run(suffixes, async (redis, keys) => {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return redis.eval(script, keys.length, ...keys, ...args);
      }
    });
  }

  /** Closes every tenant connection. */
  close(): void {
    this.#connections.clear();
  }

  private async one<T>(suffix: string, work: (redis: Redis, key: string) => Promise<T>) {
    return this.run([suffix], (redis, [key = '']) => work(redis, key));
  }

  private async run<T>(
    suffixes: readonly string[],
    work: (redis: Redis, keys: string[]) => Promise<T>,
  ): Promise<T> {
    const tenantId = TenantContext.requireTenantId();
    const { keyPrefix } = tenantNames(tenantId);
    const keys = suffixes.map((suffix) => {
      if (!KEY_SUFFIX.test(suffix)) throw new IsogateError('invalid_request', 'Invalid cache key');
      return `${keyPrefix}${suffix}`;
    });
    try {
      return await this.#connections.run(tenantId, (redis) => work(redis, keys));
    } catch (error) {
      if (error instanceof IsogateError) throw error;
      // A refused command (NOPERM, WRONGTYPE, a script error) is a gateway bug, not an outage;
      // either way the store's own text stays here.
      if (isServerReply(error) && !isAuthFailure(error)) {
        throw new IsogateError('internal_error', 'The cache refused the command');
      }
      throw new StoreUnavailableError('redis', { cause: error });
    }
  }
}
