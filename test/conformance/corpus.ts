import { newCanary } from './canaries.js';
import type { SeedDocument, Tenant } from './world.js';

/** Document ids every tenant has: the same id must still name each tenant's own document. */
export const SHARED_IDS = ['shared-protocol', 'shared-billing'] as const;

/** Ids only one tenant has, and the ones other tenants try to overwrite or delete. */
export const onlyId = (tenant: Tenant) => `only-${tenant.slot}`;
export const targetId = (tenant: Tenant) => `target-${tenant.slot}`;
export const scratchId = (tenant: Tenant) => `scratch-${tenant.slot}`;

/** A query every tenant's corpus answers, so each answer can only differ by whose corpus. */
export const SHARED_QUERY = 'quarterly cardiology protocol reference code';

const TOPICS: Record<string, string> = {
  'shared-protocol': 'Cardiology',
  'shared-billing': 'Billing',
  only: 'Oncology',
  target: 'Radiology',
  scratch: 'Pharmacy',
};

/**
 * A document of `tenant` with a fresh canary in its title, text and metadata. The canaries
 * are registered with the tenant before anything is sent, so the tenant may see them and
 * everyone else may not. The metadata also carries values every tenant shares (`dept`,
 * `project`) and the tenant's slot (`owner`), for filters that would match another tenant's
 * documents if the tenant scope were lost.
 */
export function makeDocument(tenant: Tenant, id: string): SeedDocument {
  const topic = TOPICS[id] ?? TOPICS[id.split('-')[0] ?? ''] ?? 'General';
  const title = newCanary(tenant.id, 'title');
  const text = newCanary(tenant.id, 'text');
  const metadata = newCanary(tenant.id, 'metadata');
  tenant.canaries.push(title, text, metadata);
  return {
    id,
    title: `${topic} protocol ${title.value}`,
    text:
      `${topic} guidance for the clinic. The quarterly cardiology protocol is filed under ` +
      `reference code ${text.value}. Staff review the protocol every quarter before the ` +
      `audit committee meets, and record each review in the protocol register.`,
    metadata: { dept: 'cardiology', project: 'apollo', owner: tenant.slot, code: metadata.value },
    canaries: [title, text, metadata],
  };
}

/** The documents each tenant is seeded with. */
export function seedIds(tenant: Tenant): string[] {
  return [...SHARED_IDS, onlyId(tenant), targetId(tenant), scratchId(tenant)];
}
