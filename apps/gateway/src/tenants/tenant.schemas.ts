import { compilePiiPattern, MAX_PII_PATTERNS, TENANT_ID_PATTERN } from '@isogate/isolation';
import { z } from 'zod';

const count = (max: number) => z.number().int().min(1).max(max);

export const quotasSchema = z.strictObject({
  requests_per_minute: count(1_000_000).optional(),
  tokens_per_day: count(1_000_000_000_000).optional(),
  max_documents: count(100_000_000).optional(),
  max_document_bytes: count(100 * 1024 * 1024).optional(),
});

const name = z.string().trim().min(1).max(200);
const retentionDays = z.number().int().min(1).max(36_500);
const pii = z.enum(['off', 'redact', 'pseudonymize']);
const piiPatterns = z
  .array(z.string())
  .max(MAX_PII_PATTERNS)
  .superRefine((patterns, ctx) => {
    for (const [index, source] of patterns.entries()) {
      try {
        compilePiiPattern(source);
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: [index], message: (error as Error).message });
      }
    }
  });

const label = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must match ^[a-z0-9][a-z0-9._-]{0,63}$');
const modelName = z.string().min(1).max(200);

/**
 * Which model upstreams may receive a tenant's data (API.md, "Model policy"). The MSP's default
 * and the tenant's own policy both apply: a tenant's policy can only add requirements.
 */
export const policySchema = z
  .strictObject({
    data_class: z.enum(['phi', 'pci', 'internal', 'public']).optional(),
    allowed_regions: z.array(label).min(1).max(32).optional(),
    require: z
      .strictObject({
        baa: z.literal(true).optional(),
        zero_retention: z.literal(true).optional(),
        certifications: z.array(label).max(16).optional(),
      })
      .optional(),
    models: z.array(modelName).min(1).max(128).optional(),
    default_model: modelName.optional(),
  })
  .refine(
    (p) =>
      p.default_model === undefined || p.models === undefined || p.models.includes(p.default_model),
    { message: 'default_model must be one of models', path: ['default_model'] },
  );
export type PolicyBody = z.infer<typeof policySchema>;

export const createTenantSchema = z.strictObject({
  id: z.string().regex(TENANT_ID_PATTERN, 'must match ^[a-z0-9][a-z0-9-]{2,62}$'),
  name,
  quotas: quotasSchema.optional(),
  retention_days: retentionDays.optional(),
  pii: pii.optional(),
  pii_patterns: piiPatterns.optional(),
  images: z.boolean().optional(),
  policy: policySchema.optional(),
  embeddings_model: modelName.optional(),
});
export type CreateTenantBody = z.infer<typeof createTenantSchema>;

export const patchTenantSchema = z
  .strictObject({
    status: z.enum(['active', 'suspended']).optional(),
    name: name.optional(),
    quotas: quotasSchema.optional(),
    retention_days: retentionDays.optional(),
    pii: pii.optional(),
    pii_patterns: piiPatterns.optional(),
    images: z.boolean().optional(),
    policy: policySchema.optional(),
    embeddings_model: modelName.optional(),
    reembed: z.literal(true).optional(),
  })
  .refine((body) => Object.keys(body).length > 0, { message: 'nothing to change' })
  .refine((body) => body.reembed === undefined || body.embeddings_model !== undefined, {
    message: 'reembed needs embeddings_model',
    path: ['reembed'],
  });
export type PatchTenantBody = z.infer<typeof patchTenantSchema>;

/** Whether `day` (YYYY-MM-DD) names a day that exists (2026-02-30 does not). */
function isCalendarDay(day: string): boolean {
  const ms = Date.parse(`${day}T00:00:00Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === day;
}

const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
  .refine(isCalendarDay, 'is not a calendar date');
export const usageQuerySchema = z.strictObject({ from: day.optional(), to: day.optional() });
export type UsageQuery = z.infer<typeof usageQuerySchema>;

/** Routes without query parameters refuse any, rather than silently ignoring e.g. `msp_id`. */
export const noQuerySchema = z.strictObject({});
