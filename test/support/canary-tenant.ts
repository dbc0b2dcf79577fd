import { expect } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { api } from './api.js';
import { freshId } from './db.js';
import type { TestIdentityProvider } from './identity.js';

/** A tenant with one document that carries its own canary string, and tokens of its roles. */
export interface CanaryTenant {
  readonly id: string;
  /** A string only this tenant's document holds: seen anywhere else, it leaked. */
  readonly canary: string;
  readonly admin: string;
  readonly user: string;
  readonly auditor: string;
  /** The request id of the document's creation (its audit event). */
  readonly documentRequestId: string;
}

/** How the tenant and its document are made. */
export interface CanaryTenantOptions {
  /** The id's prefix (a fresh suffix is added). */
  readonly prefix: string;
  /** Fields of the tenant besides id and name (default `{pii: 'off'}`). */
  readonly tenant?: Record<string, unknown>;
  /** The document's subject, in its text (none by default). */
  readonly topic?: string;
  /** The document's title (default `Protocol`). */
  readonly title?: string;
  /** Puts the canary in the title and the metadata as well. */
  readonly canaryEverywhere?: boolean;
}

/**
 * Creates, as `operator`, a tenant with the protocol document tests ask about ("valve
 * replacement"), whose text ends with the tenant's canary; asserts both were created.
 */
export async function createCanaryTenant(
  gatewayUrl: string,
  idp: TestIdentityProvider,
  operator: string,
  options: CanaryTenantOptions,
): Promise<CanaryTenant> {
  const id = freshId(options.prefix);
  const created = await api(gatewayUrl, operator, 'POST', '/v1/tenants', {
    id,
    name: id,
    ...(options.tenant ?? { pii: 'off' }),
  });
  expect(created.status).toBe(201);
  const canary = `CANARY-${randomUUID()}`;
  const admin = await idp.token({ tenant_id: id, roles: ['admin'] });
  const about = options.topic === undefined ? '' : ` for ${options.topic}`;
  const stored = await api(gatewayUrl, admin, 'POST', '/v1/documents', {
    id: 'protocol',
    title: options.canaryEverywhere === true ? `Protocol ${canary}` : (options.title ?? 'Protocol'),
    text: `The protocol on valve replacement${about}: transcatheter valve replacement is preferred for elderly patients. Reference ${canary}.`,
    ...(options.canaryEverywhere === true ? { metadata: { canary } } : {}),
  });
  expect(stored.status).toBe(201);
  return {
    id,
    canary,
    admin,
    user: await idp.token({ tenant_id: id, roles: ['user'] }),
    auditor: await idp.token({ tenant_id: id, roles: ['auditor'] }),
    documentRequestId: stored.headers.get('x-request-id') as string,
  };
}
