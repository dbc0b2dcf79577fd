import type { Redis } from 'ioredis';
import { tenantNames } from './store-names.js';

/**
 * Commands a tenant's graph user may run: the three graph commands on its own keys, PING, and
 * INFO, which the falkordb client sends when it connects to learn the server mode (it cannot
 * be turned off). The client's CLIENT SETINFO is switched off instead of allowed. No
 * GRAPH.LIST, KEYS, SCAN, FLUSH*, CONFIG or ACL.
 */
export const GRAPH_USER_COMMANDS: readonly string[] = [
  '+graph.query',
  '+graph.ro_query',
  '+graph.delete',
  '+ping',
  '+info',
];

/**
 * Commands a tenant's cache user may run: what the response cache and a Lua token bucket need.
 * EVAL and EVALSHA are checked by Redis against the user's ACL for every key the script
 * declares and every command it calls, so a script reaches only the tenant's keys and only
 * these commands (a token bucket can be kept with GET/SET/INCRBY/PEXPIRE/PTTL).
 * No SCRIPT: it names no key, so the key pattern cannot confine it, and SCRIPT FLUSH or KILL
 * would act on every tenant's scripts; EVAL caches a script itself, which EVALSHA then finds.
 * No INFO, KEYS, SCAN, FLUSH*, CONFIG or ACL.
 */
export const CACHE_USER_COMMANDS: readonly string[] = [
  '+get',
  '+set',
  '+del',
  '+expire',
  '+pexpire',
  '+ttl',
  '+pttl',
  '+incrby',
  '+eval',
  '+evalsha',
  '+ping',
];

/**
 * Creates or resets the ACL user of `tenantId`: `reset` drops every earlier rule, password and
 * key pattern first, and the server applies the whole command or none of it, so the user never
 * holds more than these rules, not even for a moment.
 */
export async function setTenantAclUser(
  admin: Redis,
  tenantId: string,
  password: string,
  commands: readonly string[],
): Promise<void> {
  const { aclUser, keyPrefix } = tenantNames(tenantId);
  await admin.call(
    'ACL',
    'SETUSER',
    aclUser,
    'reset',
    'on',
    `>${password}`,
    `~${keyPrefix}*`,
    ...commands,
  );
}

/** Removes the tenant's ACL user (absent is fine); the server closes its connections. */
export async function deleteTenantAclUser(admin: Redis, tenantId: string): Promise<void> {
  await admin.call('ACL', 'DELUSER', tenantNames(tenantId).aclUser);
}

/** Whether the server has the tenant's ACL user. */
export async function hasTenantAclUser(admin: Redis, tenantId: string): Promise<boolean> {
  const users = (await admin.call('ACL', 'USERS')) as string[];
  return users.includes(tenantNames(tenantId).aclUser);
}

/**
 * Walks every key under the tenant's prefix with SCAN (never KEYS, which blocks the server),
 * deleting each batch when `remove` is set; returns how many distinct keys there were (SCAN
 * may return a key twice, UNLINK counts only what it removed).
 */
export async function scanTenantKeys(
  admin: Redis,
  tenantId: string,
  remove: boolean,
): Promise<number> {
  const { keyPrefix } = tenantNames(tenantId);
  const seen = new Set<string>();
  let removed = 0;
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 500);
    cursor = next;
    if (remove && keys.length > 0) removed += await admin.unlink(...keys);
    else for (const key of keys) seen.add(key);
  } while (cursor !== '0');
  return remove ? removed : seen.size;
}
