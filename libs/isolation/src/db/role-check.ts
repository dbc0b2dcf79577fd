import type pg from 'pg';

/** Tables that hold tenant data; the gateway role must own none of them. */
export const TENANT_TABLES = [
  'tenants',
  'tenant_keys',
  'corpus_versions',
  'documents',
  'audit_events',
  'interactions',
  'usage_daily',
  'usage_model_daily',
] as const;

/**
 * Refuses a database role that could get around row-level security: a superuser, a role with
 * BYPASSRLS, or the owner of a tenant table. Returns the problems found (empty when safe).
 */
export async function unsafeRoleProblems(pool: pg.Pool): Promise<string[]> {
  const role = await pool.query<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean }>(
    'SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user',
  );
  const owned = await pool.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c
       JOIN pg_roles r ON r.oid = c.relowner
      WHERE r.rolname = current_user AND c.relname = ANY($1::text[])`,
    [TENANT_TABLES],
  );
  const problems: string[] = [];
  const me = role.rows[0];
  if (me?.rolsuper) problems.push(`role ${me.rolname} is a superuser`);
  if (me?.rolbypassrls) problems.push(`role ${me.rolname} has BYPASSRLS`);
  for (const { relname } of owned.rows)
    problems.push(`role ${me?.rolname ?? '?'} owns table ${relname}`);
  return problems;
}
