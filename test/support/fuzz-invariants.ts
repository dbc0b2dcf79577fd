import type pg from 'pg';
import type { FuzzResult } from './fuzz-runner.js';

/** What a tenant holds, read as a superuser (so reading it adds nothing to its audit chain). */
export interface TenantSnapshot {
  /** Document id → `state content_sha256 updated_at`. */
  readonly documents: ReadonlyMap<string, string>;
  /** The chain head: events and the last hash. */
  readonly audit: string;
  /** The tenant's row (status, quotas, PII rules ...), as JSON. */
  readonly tenant: string;
  /** Points in the tenant's Qdrant collection. */
  readonly points: number;
}

/** Reads a tenant's state; `countPoints` counts its Qdrant points with the admin key. */
export async function snapshotTenant(
  pool: pg.Pool,
  tenantId: string,
  countPoints: (tenantId: string) => Promise<number>,
): Promise<TenantSnapshot> {
  const documents = await pool.query<{ id: string; v: string }>(
    `SELECT id, state || ' ' || content_sha256 || ' ' || updated_at::text AS v
       FROM documents WHERE tenant_id = $1`,
    [tenantId],
  );
  const audit = await pool.query<{ v: string }>(
    `SELECT count(*)::text || ' ' || coalesce(max(seq)::text, '0') || ' ' ||
            coalesce((SELECT hash FROM audit_events WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1), '') AS v
       FROM audit_events WHERE tenant_id = $1`,
    [tenantId],
  );
  const tenant = await pool.query<{ v: string }>(
    'SELECT row_to_json(t)::text AS v FROM tenants t WHERE id = $1',
    [tenantId],
  );
  return {
    documents: new Map(documents.rows.map((row) => [row.id, row.v])),
    audit: audit.rows[0]?.v ?? '',
    tenant: tenant.rows[0]?.v ?? '',
    points: await countPoints(tenantId),
  };
}

/** Differences between two snapshots of a tenant nothing was allowed to touch. */
export function untouchedProblems(before: TenantSnapshot, after: TenantSnapshot): string[] {
  const problems: string[] = [];
  const documents = (s: TenantSnapshot) => JSON.stringify([...s.documents].sort());
  if (documents(before) !== documents(after)) problems.push('its documents changed');
  if (before.audit !== after.audit)
    problems.push(`its audit chain changed: ${before.audit} → ${after.audit}`);
  if (before.tenant !== after.tenant) problems.push('its tenant record changed');
  if (before.points !== after.points)
    problems.push(`its vectors changed: ${before.points} → ${after.points}`);
  return problems;
}

/**
 * Differences in the fuzzed tenant that no accepted request explains: a document that
 * appeared or changed without a 2xx write of that id (or a batch item written with it), or vanished without a 2xx delete; a
 * tenant record that changed (only an operator of its own MSP may change it, and the fuzzer's
 * operator is of another MSP).
 */
export function unexplainedProblems(
  before: TenantSnapshot,
  after: TenantSnapshot,
  results: readonly FuzzResult[],
): string[] {
  const accepted = (route: string) =>
    new Set(
      results
        .filter((r) => r.request.route === route && r.status >= 200 && r.status < 300)
        .map((r) => String((r.json as { id?: unknown } | undefined)?.id)),
    );
  const written = accepted('POST /v1/documents');
  // A batch answers 200 as a whole; each item it wrote answers 201 with its id.
  for (const r of results) {
    if (r.request.route !== 'POST /v1/documents/batch' || r.status !== 200) continue;
    const items = (r.json as { data?: { status?: unknown; id?: unknown }[] } | undefined)?.data;
    for (const item of items ?? []) if (item.status === 201) written.add(String(item.id));
  }
  const deleted = accepted('DELETE /v1/documents/:id');
  const problems: string[] = [];
  for (const [id, version] of after.documents) {
    if (before.documents.get(id) !== version && !written.has(id)) {
      problems.push(
        `document ${JSON.stringify(id)} changed without an accepted write (${version})`,
      );
    }
  }
  for (const id of before.documents.keys()) {
    if (!after.documents.has(id) && !deleted.has(id)) {
      problems.push(`document ${JSON.stringify(id)} vanished without an accepted delete`);
    }
  }
  if (before.tenant !== after.tenant) problems.push('the tenant record changed');
  return problems;
}
