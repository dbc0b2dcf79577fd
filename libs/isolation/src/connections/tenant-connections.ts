import { LRUCache } from 'lru-cache';
import { WaitClock } from '../context/wait-clock.js';

/** Tenants that keep an open connection per store when no bound is configured. */
export const DEFAULT_MAX_TENANTS = 256;

/** A server's answer when the credentials of a connection are not (or no longer) valid. */
export function isAuthFailure(error: unknown): boolean {
  return /WRONGPASS|NOAUTH|invalid username-password pair|AUTH failed|user is disabled/i.test(
    messageOf(error),
  );
}

/**
 * A connection that is gone, as opposed to a command the server refused. A server that drops
 * an ACL user closes that user's connections, so this is often the first sign of a lost user.
 * Timeouts are left out on purpose: a hung store is unavailable, and a retry would double the
 * wait.
 */
export function isConnectionLost(error: unknown): boolean {
  return /Connection is closed|Stream isn't writeable|max retries per request|client is closed|client is offline|Socket closed unexpectedly|ECONNRESET|ECONNREFUSED|EPIPE/i.test(
    messageOf(error),
  );
}

/** An error reply of a Redis-protocol server (ioredis or node-redis), not a transport failure. */
export function isServerReply(error: unknown): boolean {
  const name = (error as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return ['ReplyError', 'ErrorReply', 'SimpleError', 'BlobError'].includes(String(name));
}

/**
 * An error's message. Read as a property, not through `instanceof Error`, which is false for
 * errors made in another realm (Node's own socket errors under a test runner's VM context).
 */
function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}

/** A store call that did not settle in time; its connection has been dropped. */
class StoreCallTimeout extends Error {
  constructor() {
    super('store call timed out');
    this.name = 'StoreCallTimeout';
  }
}

/** How a store's per-tenant connections are opened, closed and re-authorized. */
export interface TenantConnectionsOptions<C> {
  /** At most this many tenants keep an open connection; the least recently used is closed. */
  readonly maxTenants: number;
  /** Opens a connection as the tenant's own store user. */
  readonly open: (tenantId: string) => Promise<C>;
  readonly close: (connection: C) => Promise<void>;
  /** Re-creates the tenant's store user (through the provisioner's admin connection). */
  readonly recreateUser: (tenantId: string) => Promise<void>;
  /**
   * A call that has not settled after this long fails with `StoreCallTimeout` and its
   * connection is dropped: a hung store (a partition, a stalled socket) must answer 503, not
   * hold the request until it returns. Default 5 s.
   */
  readonly callTimeoutMs?: number;
}

const DEFAULT_CALL_TIMEOUT_MS = 5_000;

interface Slot<C> {
  readonly connection: Promise<C>;
  busy: number;
  retired: boolean;
}

/**
 * One connection per tenant, as that tenant's store user, in a bounded LRU. A connection leaving
 * the LRU is closed once the calls still running on it are done, so eviction never cuts a
 * command in flight. The admin connection is never used for a tenant's own work.
 */
export class TenantConnections<C> {
  readonly #slots: LRUCache<string, Slot<C>>;

  constructor(private readonly options: TenantConnectionsOptions<C>) {
    this.#slots = new LRUCache<string, Slot<C>>({
      max: options.maxTenants,
      dispose: (slot) => {
        slot.retired = true;
        if (slot.busy === 0) this.shut(slot);
      },
    });
  }

  /**
   * Runs `work` on the tenant's connection. When the connection is gone or its credentials are
   * refused (the store lost the user: a restart without persistence, an `ACL DELUSER`), the
   * user is re-created if needed, a fresh connection opened, and `work` tried once more. The
   * whole call counts as waiting on the store (`x-gateway-overhead-ms`).
   */
  run<T>(tenantId: string, work: (connection: C) => Promise<T>): Promise<T> {
    return WaitClock.measure(() => this.runOnce(tenantId, work));
  }

  private async runOnce<T>(tenantId: string, work: (connection: C) => Promise<T>): Promise<T> {
    try {
      return await this.once(tenantId, work);
    } catch (error) {
      if (!isAuthFailure(error) && !isConnectionLost(error)) throw error;
      if (isAuthFailure(error)) await this.options.recreateUser(tenantId);
      return this.once(tenantId, work);
    }
  }

  /** Tenants with a connection (open or opening). */
  get size(): number {
    return this.#slots.size;
  }

  /** Closes every connection (each once its running calls are done). */
  clear(): void {
    this.#slots.clear();
  }

  private async once<T>(tenantId: string, work: (connection: C) => Promise<T>): Promise<T> {
    const slot = this.slotOf(tenantId);
    slot.busy += 1;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreCallTimeout()),
        this.options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
      );
    });
    try {
      return await Promise.race([slot.connection.then(work), timeout]);
    } catch (error) {
      if (isAuthFailure(error) || isConnectionLost(error) || error instanceof StoreCallTimeout) {
        this.forget(tenantId, slot);
      }
      throw error;
    } finally {
      clearTimeout(timer);
      slot.busy -= 1;
      if (slot.retired && slot.busy === 0) this.shut(slot);
    }
  }

  private slotOf(tenantId: string): Slot<C> {
    const cached = this.#slots.get(tenantId);
    if (cached !== undefined) return cached;
    const slot: Slot<C> = { connection: this.openAs(tenantId), busy: 0, retired: false };
    this.#slots.set(tenantId, slot);
    // A connection that failed to open is forgotten at once, never cached.
    slot.connection.catch(() => this.forget(tenantId, slot));
    return slot;
  }

  /** Opens as the tenant; a refused login means the store lost the user: re-create it once. */
  private async openAs(tenantId: string): Promise<C> {
    try {
      return await this.options.open(tenantId);
    } catch (error) {
      if (!isAuthFailure(error)) throw error;
      await this.options.recreateUser(tenantId);
      return this.options.open(tenantId);
    }
  }

  /** Drops `slot` unless a concurrent call already replaced it with a fresh connection. */
  private forget(tenantId: string, slot: Slot<C>): void {
    if (this.#slots.peek(tenantId) === slot) this.#slots.delete(tenantId);
  }

  private shut(slot: Slot<C>): void {
    void slot.connection.then((c) => this.options.close(c)).catch(() => undefined);
  }
}
