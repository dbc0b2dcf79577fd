import type {
  LogicalModel,
  ModelCatalog,
  ModelPurpose,
  Upstream,
} from '../catalog/model-catalog.js';
import {
  effectiveRequirements,
  type EffectiveRequirements,
  type TenantPolicy,
} from './tenant-policy.js';

/** Whether `upstream` meets `requirements` and lies in one of `regions` (undefined: any). */
export function meets(
  upstream: Upstream,
  requirements: EffectiveRequirements,
  regions: readonly string[] | undefined,
): boolean {
  if (regions !== undefined && !regions.includes(upstream.region)) return false;
  if (requirements.baa && !upstream.baa) return false;
  if (requirements.zeroRetention && !upstream.zeroRetention) return false;
  return requirements.certifications.every((name) => upstream.certifications.includes(name));
}

/**
 * Whether the policy's allow-list (if any) names `model`. The list is of the models clients
 * ask for (chat); the embeddings model is the gateway's choice, so the list does not apply.
 */
export function listed(policy: TenantPolicy, model: LogicalModel): boolean {
  return (
    model.purpose !== 'chat' || policy.models === undefined || policy.models.includes(model.name)
  );
}

/**
 * The upstreams of `logicalModel` that `policy` allows, in the catalog's order: empty when
 * the model is unknown, not in the policy's allow-list, or none of its upstreams complies.
 * Pure; the router calls nothing else.
 */
export function compliantUpstreams(
  catalog: ModelCatalog,
  logicalModel: string,
  policy: TenantPolicy,
): Upstream[] {
  const model = catalog.model(logicalModel);
  if (model === undefined || !listed(policy, model)) return [];
  return compliantOf(catalog, model, effectiveRequirements(policy), policy.allowed_regions);
}

/**
 * The logical models of `purpose` the tenant may use: in its allow-list when it has one, and
 * with at least one compliant upstream. In catalog order.
 */
export function allowedModels(
  catalog: ModelCatalog,
  policy: TenantPolicy,
  purpose: ModelPurpose,
): LogicalModel[] {
  const requirements = effectiveRequirements(policy);
  return catalog.models.filter(
    (model) =>
      model.purpose === purpose &&
      listed(policy, model) &&
      compliantOf(catalog, model, requirements, policy.allowed_regions).length > 0,
  );
}

function compliantOf(
  catalog: ModelCatalog,
  model: LogicalModel,
  requirements: EffectiveRequirements,
  regions: readonly string[] | undefined,
): Upstream[] {
  return model.upstreams.flatMap((id) => {
    const upstream = catalog.upstream(id);
    return upstream !== undefined && meets(upstream, requirements, regions) ? [upstream] : [];
  });
}
