import canonicalize from 'canonicalize';
import { createHash } from 'node:crypto';

/** What a tenant's data is; the known classes bring minimum requirements of their own. */
export type DataClass = 'phi' | 'pci' | 'internal' | 'public' | (string & {});

/** What an upstream must offer before a tenant's request may reach it. */
export interface PolicyRequirements {
  readonly baa?: true;
  readonly zero_retention?: true;
  /** Every one of these (lower case), e.g. `hipaa`, `soc2`, `pci-dss`, `iso27001`. */
  readonly certifications?: readonly string[];
}

/**
 * A tenant's compliance policy for model calls, as stored with the tenant (snake_case JSON).
 * Everything is optional; an empty policy allows every upstream and every model.
 */
export interface TenantPolicy {
  readonly data_class?: DataClass;
  /** Regions an upstream may be in; absent: any. An empty list allows none. */
  readonly allowed_regions?: readonly string[];
  readonly require?: PolicyRequirements;
  /** Logical model names the tenant may use; absent: any. */
  readonly models?: readonly string[];
  readonly default_model?: string;
}

/** The requirements in force: explicit ones and the data class's, combined. */
export interface EffectiveRequirements {
  readonly baa: boolean;
  readonly zeroRetention: boolean;
  readonly certifications: readonly string[];
}

/**
 * The fixed minimum each data class requires, whatever `require` says:
 * - `phi`: a BAA and zero retention (HIPAA: protected health information goes only to a
 *   business associate under agreement, and is not kept by the provider);
 * - `pci`: the `pci-dss` certification and zero retention (cardholder data goes only to a
 *   PCI DSS assessed provider, which must not store what it has no need to keep);
 * - `internal`, `public`: nothing;
 * - any other class (a typo, a class this version does not know): the union of all the
 *   above, so an unknown class can only make routing stricter, never looser.
 * Classes are compared in lower case.
 */
export const DATA_CLASS_REQUIREMENTS: Readonly<Record<string, EffectiveRequirements>> = {
  phi: { baa: true, zeroRetention: true, certifications: [] },
  pci: { baa: false, zeroRetention: true, certifications: ['pci-dss'] },
  internal: { baa: false, zeroRetention: false, certifications: [] },
  public: { baa: false, zeroRetention: false, certifications: [] },
};
const UNKNOWN_CLASS: EffectiveRequirements = {
  baa: true,
  zeroRetention: true,
  certifications: ['pci-dss'],
};
const NONE: EffectiveRequirements = { baa: false, zeroRetention: false, certifications: [] };

/** The data class's minimum combined with the policy's explicit `require`. */
export function effectiveRequirements(policy: TenantPolicy): EffectiveRequirements {
  const cls = policy.data_class?.toLowerCase();
  const known = cls !== undefined && Object.hasOwn(DATA_CLASS_REQUIREMENTS, cls);
  const base = cls === undefined ? NONE : (known && DATA_CLASS_REQUIREMENTS[cls]) || UNKNOWN_CLASS;
  const explicit = policy.require ?? {};
  return {
    baa: base.baa || explicit.baa === true,
    zeroRetention: base.zeroRetention || explicit.zero_retention === true,
    certifications: union(base.certifications, explicit.certifications ?? []),
  };
}

/**
 * The policy in force for a tenant of an MSP: the tenant's fields override the MSP's default,
 * but requirements only ever add up, so a tenant cannot loosen what its MSP requires:
 * - `require`: the MSP's requirements *including those of its data class* are kept, and the
 *   tenant's are added (a `public` tenant of a `phi` MSP still needs BAA + zero retention);
 * - `data_class`, `default_model`: the tenant's when it sets one, else the MSP's;
 * - `allowed_regions`, `models`: the intersection when both set them (a tenant may narrow
 *   the MSP's list, not widen it), else whichever is set.
 */
export function mergePolicy(mspDefault: TenantPolicy, tenantPolicy: TenantPolicy): TenantPolicy {
  const msp = effectiveRequirements(mspDefault);
  const tenant = tenantPolicy.require ?? {};
  const certifications = union(msp.certifications, tenant.certifications ?? []);
  const require: PolicyRequirements = {
    ...(msp.baa || tenant.baa === true ? { baa: true } : {}),
    ...(msp.zeroRetention || tenant.zero_retention === true ? { zero_retention: true } : {}),
    ...(certifications.length > 0 ? { certifications } : {}),
  };
  const dataClass = tenantPolicy.data_class ?? mspDefault.data_class;
  const defaultModel = tenantPolicy.default_model ?? mspDefault.default_model;
  const regions = narrowed(mspDefault.allowed_regions, tenantPolicy.allowed_regions);
  const models = narrowed(mspDefault.models, tenantPolicy.models);
  return {
    ...(dataClass !== undefined ? { data_class: dataClass } : {}),
    ...(regions !== undefined ? { allowed_regions: regions } : {}),
    ...(Object.keys(require).length > 0 ? { require } : {}),
    ...(models !== undefined ? { models } : {}),
    ...(defaultModel !== undefined ? { default_model: defaultModel } : {}),
  };
}

const canonicalForms = new WeakMap<TenantPolicy, string>();

/**
 * The policy's canonical JSON (RFC 8785), the key its routing decisions are cached under.
 * Worked out once per policy object: the gateway hands the same object to every request of a
 * tenant until its state is read again.
 */
export function canonicalPolicy(policy: TenantPolicy): string {
  let canonical = canonicalForms.get(policy);
  if (canonical === undefined) {
    canonical = canonicalize(policy) ?? '{}';
    canonicalForms.set(policy, canonical);
  }
  return canonical;
}

/**
 * A short, stable version of the policy: the first 16 hex digits of the SHA-256 of its
 * canonical JSON. Route records carry it, so an audit shows which policy chose an upstream.
 */
export function policyVersion(policy: TenantPolicy): string {
  return versionOf(canonicalPolicy(policy));
}

/** `policyVersion` of an already canonical policy. */
export function versionOf(canonical: string): string {
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b].map((name) => name.toLowerCase()))].sort();
}

function narrowed(
  outer: readonly string[] | undefined,
  inner: readonly string[] | undefined,
): readonly string[] | undefined {
  if (outer === undefined) return inner;
  if (inner === undefined) return outer;
  return inner.filter((item) => outer.includes(item));
}
