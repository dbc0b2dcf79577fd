import { AsyncLocalStorage } from 'node:async_hooks';
import { IsogateError } from '../errors/isogate-error.js';

/** Roles a verified token may carry (API.md, Trust). */
export const ROLES = ['user', 'admin', 'auditor', 'operator'] as const;
export type Role = (typeof ROLES)[number];

/** A tenant id as the API accepts it; also what every store key and collection name is built from. */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{2,62}$/;

/** Who is calling, built from verified token claims only. */
export type CallerContext =
  | {
      readonly kind: 'tenant';
      readonly tenantId: string;
      readonly subject: string;
      readonly roles: readonly Role[];
      readonly requestId: string;
    }
  | {
      readonly kind: 'operator';
      readonly mspId: string;
      readonly subject: string;
      readonly roles: readonly Role[];
      readonly requestId: string;
    };

const storage = new AsyncLocalStorage<CallerContext>();

/**
 * The caller's context for the duration of one request, carried by AsyncLocalStorage. Opened
 * with `run()` only (never `enterWith`), so it cannot leak into work that outlives the request.
 */
export const TenantContext = {
  /** Runs `fn` with `context` as the current caller. */
  run<T>(context: CallerContext, fn: () => T): T {
    return storage.run(context, fn);
  },

  /** The current caller, or undefined outside a request. */
  current(): CallerContext | undefined {
    return storage.getStore();
  },

  /** The current caller; throws `tenant_context_missing` when no context is open. */
  require(): CallerContext {
    const context = storage.getStore();
    if (context === undefined) {
      throw new IsogateError(
        'tenant_context_missing',
        'No tenant context is open for this operation',
      );
    }
    return context;
  },

  /** The current tenant's id; throws unless the caller acts for a tenant. */
  requireTenantId(): string {
    const context = TenantContext.require();
    if (context.kind !== 'tenant') {
      throw new IsogateError('tenant_context_missing', 'This operation needs a tenant context');
    }
    return context.tenantId;
  },
};
