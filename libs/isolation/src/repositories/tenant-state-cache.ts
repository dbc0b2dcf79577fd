import { LRUCache } from 'lru-cache';
import { TenantContext, type CallerContext } from '../context/tenant-context.js';
import type { TenantState, TenantStateReader } from './tenant-state.js';

/**
 * How long a tenant's state is trusted: a suspension, a changed quota or changed PII rules
 * made by another gateway process take effect within this time (this process forgets at once).
 */
export const TENANT_STATE_TTL_MS = 2_000;

interface Entry {
  readonly state: TenantState | undefined;
  readonly expires: number;
}

/**
 * The one cache of tenants' state (status, quotas, PII rules) for the request path. One read
 * per tenant at a time, however many requests wait for it. When PostgreSQL cannot be read, the
 * last known state still applies (a request that needs PostgreSQL fails on its own anyway);
 * with none known, the failure is the caller's.
 */
export class TenantStateCache {
  readonly #entries = new LRUCache<string, Entry>({ max: 10_000 });
  readonly #loading = new Map<string, Promise<TenantState | undefined>>();
  /** The state each request saw first, so all of its steps see the same one. */
  readonly #seen = new WeakMap<CallerContext, Promise<TenantState | undefined>>();

  constructor(private readonly reader: Pick<TenantStateReader, 'read'>) {}

  /** The state of `tenantId`, or undefined when there is no such tenant. */
  async state(tenantId: string): Promise<TenantState | undefined> {
    const cached = this.#entries.get(tenantId);
    if (cached !== undefined && cached.expires > Date.now()) return cached.state;
    try {
      return await this.load(tenantId);
    } catch (error) {
      if (cached !== undefined) return cached.state;
      throw error;
    }
  }

  /**
   * The state of the tenant in the current context (undefined once the tenant is gone): the
   * same for every call within one context, so no request embeds its query with one model
   * and searches the vectors of another when the state changes under it.
   */
  current(): Promise<TenantState | undefined> {
    const tenantId = TenantContext.requireTenantId();
    const context = TenantContext.require();
    let seen = this.#seen.get(context);
    if (seen === undefined) {
      seen = this.state(tenantId);
      this.#seen.set(context, seen);
      // A failed read is not kept: the next call tries again.
      seen.catch(() => this.#seen.delete(context));
    }
    return seen;
  }

  /** Forgets a tenant at once: the next request reads its row again. */
  forget(tenantId: string): void {
    this.#entries.delete(tenantId);
    // A read already under way may have started before the change; it must not be kept.
    this.#loading.delete(tenantId);
  }

  /** Forgets every tenant at once (a change of an MSP's default policy applies to all of its). */
  forgetAll(): void {
    this.#entries.clear();
    this.#loading.clear();
  }

  private load(tenantId: string): Promise<TenantState | undefined> {
    const pending = this.#loading.get(tenantId);
    if (pending !== undefined) return pending;
    const loading = this.reader.read(tenantId).then((state) => {
      if (this.#loading.get(tenantId) === loading) {
        this.#entries.set(tenantId, { state, expires: Date.now() + TENANT_STATE_TTL_MS });
      }
      return state;
    });
    const settle = () => {
      if (this.#loading.get(tenantId) === loading) this.#loading.delete(tenantId);
    };
    loading.then(settle, settle);
    this.#loading.set(tenantId, loading);
    return loading;
  }
}
