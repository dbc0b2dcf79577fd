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
