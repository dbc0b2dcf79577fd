import { TENANT_ID_PATTERN } from '../context/tenant-context.js';

/**
 * Names of a tenant's resources in each store. Every one is built from a tenant id that
 * matched the id pattern, so no id can reach into another tenant's name space (`a*`, `a:b`).
 */
export const tenantNames = (tenantId: string) => {
  if (!TENANT_ID_PATTERN.test(tenantId)) throw new Error('invalid tenant id');
  return {
    collection: `t_${tenantId}`,
    keyPrefix: `t:${tenantId}:`,
    graphKey: `t:${tenantId}:graph`,
    aclUser: `t_${tenantId}`,
  };
};

/**
 * The Qdrant collection of a tenant's vectors of `generation`: `t_<tenant>` first, then
 * `t_<tenant>_g<n>` for each re-embedding. A tenant id holds no `_`, so no generation of one
 * tenant can be named like a collection of another.
 */
export function collectionOf(tenantId: string, generation: number): string {
  const { collection } = tenantNames(tenantId);
  if (!Number.isInteger(generation) || generation < 0) throw new Error('invalid generation');
  return generation === 0 ? collection : `${collection}_g${generation}`;
}

/** Whether `name` is one of the collections of `tenantId`, of any generation. */
export function isCollectionOf(tenantId: string, name: string): boolean {
  const { collection } = tenantNames(tenantId);
  return name === collection || new RegExp(`^${collection}_g[1-9][0-9]*$`).test(name);
}
