/** How a payload field is matched (Qdrant's match conditions). */
export type VectorMatch =
  | { readonly value: string | number | boolean }
  | { readonly any: readonly (string | number)[] }
  | { readonly except: readonly (string | number)[] }
  | { readonly text: string };

/** A numeric range on a payload field. */
export interface VectorRange {
  readonly gt?: number;
  readonly gte?: number;
  readonly lt?: number;
  readonly lte?: number;
}

/** One condition of a filter; a nested filter is a condition too. */
export type VectorCondition =
  | { readonly key: string; readonly match: VectorMatch }
  | { readonly key: string; readonly range: VectorRange }
  | { readonly is_empty: { readonly key: string } }
  | { readonly is_null: { readonly key: string } }
  | { readonly has_id: readonly (string | number)[] }
  | VectorFilter;

/** A filter on points, as a caller gives it: it can only narrow the tenant's own points. */
export interface VectorFilter {
  readonly must?: readonly VectorCondition[];
  readonly should?: readonly VectorCondition[];
  readonly must_not?: readonly VectorCondition[];
}

/**
 * The tenant's scope AND the caller's filter. The caller's filter is nested inside `must`, next
 * to the tenant condition, never around it: whatever it says (a `should` naming another tenant,
 * a `must_not` of this one), a point must still carry this tenant's id to match.
 */
export function scoped(tenantId: string, filter: VectorFilter | undefined): VectorFilter {
  const tenant = { key: 'tenant_id', match: { value: tenantId } };
  return { must: filter === undefined ? [tenant] : [tenant, filter] };
}
