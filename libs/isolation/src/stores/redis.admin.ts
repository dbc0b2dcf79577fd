import { Redis } from 'ioredis';
import { withTimeout, type StoreProbe } from './store-probe.js';

/**
 * Builds an ioredis connection that fails fast while the server is away (no offline queue)
 * and reconnects by itself, so a request never waits on a Redis that is down.
 */
export function connectRedis(
  url: string,
  options: { username?: string; password?: string } = {},
): Redis {
  const redis = new Redis(url, {
    ...options,
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  });
  redis.on('error', () => undefined);
  return redis;
}

/**
 * Resolves once the connection is usable. Without an offline queue a command sent while
 * ioredis is still (re)connecting fails at once, which is right for requests but would make a
 * probe report a healthy server as down.
 */
export async function ready(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const onReady = () => {
      redis.off('end', onEnd);
      resolve();
    };
    const onEnd = () => {
      redis.off('ready', onReady);
      reject(new Error('redis connection ended'));
    };
    redis.once('ready', onReady);
    redis.once('end', onEnd);
  });
}

/** The admin connection to the cache Redis: used by provisioning and health checks only. */
export class RedisAdmin implements StoreProbe {
  readonly store = 'redis' as const;
  readonly client: Redis;

  constructor(url: string) {
    this.client = connectRedis(url);
  }

  async ping(): Promise<void> {
    await withTimeout(
      ready(this.client).then(() => this.client.ping()),
      2_000,
      'redis ping',
    );
  }

  async close(): Promise<void> {
    this.client.disconnect();
    return Promise.resolve();
  }
}
