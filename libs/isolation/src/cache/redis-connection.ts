import type { Redis, RedisOptions } from 'ioredis';
import { connectRedis } from '../stores/redis.admin.js';

const READY_WITHIN_MS = 3_000;

/**
 * Opens an ioredis connection as a tenant's ACL user and resolves once it is ready. Rejects
 * with the server's own error when the login is refused, so the caller can tell a lost user
 * (re-create it) from a store that is down.
 */
export async function openTenantRedis(
  url: string,
  username: string,
  password: string,
): Promise<Redis> {
  // The tenant user may not run INFO (ioredis's ready check) nor CLIENT SETINFO: both would
  // fail on every connection, and the ready check would print a warning each time. These are
  // plain ioredis options that connectRedis passes through with the credentials.
  const login: Pick<
    RedisOptions,
    'username' | 'password' | 'enableReadyCheck' | 'disableClientInfo'
  > = { username, password, enableReadyCheck: false, disableClientInfo: true };
  const redis = connectRedis(url, login);
  try {
    await readyOrRefused(redis);
    return redis;
  } catch (error) {
    redis.disconnect();
    throw error;
  }
}

/**
 * connectRedis reconnects forever, so a refused login never ends the connection: the first
 * error of a login attempt decides instead, and a timeout bounds the wait for a store that is
 * away.
 */
function readyOrRefused(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => settle(new Error('redis connection timed out')),
      READY_WITHIN_MS,
    );
    const onReady = () => settle();
    const onError = (error: Error) => settle(error);
    const onEnd = () => settle(new Error('redis connection ended'));
    function settle(error?: Error): void {
      clearTimeout(timer);
      redis.off('ready', onReady).off('error', onError).off('end', onEnd);
      if (error === undefined) resolve();
      else reject(error);
    }
    redis.once('ready', onReady).once('error', onError).once('end', onEnd);
  });
}
