import { z } from 'zod';
import type { TenantPolicy } from './tenant-policy.js';

const name = z.string().min(1).max(200);
const list = z.array(name).max(1_000);

/**
 * The shape of a `TenantPolicy`, for the places that accept one (the tenant's settings, an
 * MSP's default): unknown fields are refused, so a misspelt requirement (`requires`, `bAA`)
 * is an error instead of a requirement silently not in force.
 */
export const tenantPolicySchema: z.ZodType<TenantPolicy> = z.strictObject({
  data_class: z.string().min(1).max(64).optional(),
  allowed_regions: list.optional(),
  require: z
    .strictObject({
      baa: z.literal(true).optional(),
      zero_retention: z.literal(true).optional(),
      certifications: list.optional(),
    })
    .optional(),
  models: list.optional(),
  default_model: name.optional(),
});
