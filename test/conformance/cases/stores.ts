import { tenantNames } from '@isogate/isolation';
import { againstAll, type RunContext } from '../context.js';
import type { StoreProbe } from '../store-probe.js';
import type { TenantReading } from '../sealed.js';
import type { Check } from '../suite.js';
import type { Tenant } from '../world.js';

const STORES = ['PostgreSQL', 'Qdrant', 'Redis', 'FalkorDB'] as const;
const NOPERM = /NOPERM/i;

/** The tenant's reading holds its own canaries or none (`ownRequired`), and nothing foreign. */
function judge(
  check: Check,
  ctx: RunContext,
  tenant: Tenant,
  reading: TenantReading,
  ownRequired: boolean,
): void {
  check.lacks(
    reading.text,
    [...ctx.world.foreignTo(tenant), ...ctx.world.tokens],
    "read with the tenant's credentials",
  );
  if (ownRequired) check.sees(reading.text, tenant.canaries, "read with the tenant's credentials");
}

async function postgres(
  ctx: RunContext,
  probe: StoreProbe,
  tenant: Tenant,
  others: Tenant[],
): Promise<void> {
  await ctx.suite.case(
    'stores: PostgreSQL as the gateway role, app.tenant_id = own',
    againstAll(tenant),
    async (check) => {
      const reading = await probe.reading(tenant.id);
      const counts = await probe.postgres(tenant.id, reading);
      judge(check, ctx, tenant, reading, true);
      for (const other of others) {
        const sql = 'SELECT count(*)::int AS n FROM documents WHERE tenant_id = $1';
        const [theirs] = await probe.asTenant<{ n: number }>(tenant.id, sql, [other.id]);
        check.expect(theirs?.n === 0, `${theirs?.n ?? '?'} of ${other.slot}'s documents visible`);
        const [control] = await probe.asTenant<{ n: number }>(other.id, sql, [other.id]);
        check.expect(
          (control?.n ?? 0) > 0,
          `control: ${other.slot} sees none of its own documents`,
        );
      }
      const [unset] = await probe.asTenant<{ n: number }>(
        '',
        'SELECT count(*)::int AS n FROM documents',
      );
      check.expect(unset?.n === 0, `no tenant setting shows ${unset?.n ?? '?'} documents`);
      const rows = Object.entries(counts)
        .map(([t, n]) => `${t} ${n}`)
        .join(', ');
      check.note(`${rows}; ${reading.opened} sealed values opened; other tenants' rows 0, unset 0`);
    },
  );
}

async function qdrant(
  ctx: RunContext,
  probe: StoreProbe,
  tenant: Tenant,
  others: Tenant[],
): Promise<void> {
  await ctx.suite.case(
    "stores: Qdrant with the tenant's JWT",
    againstAll(tenant),
    async (check) => {
      const reading = await probe.reading(tenant.id);
      const listed = await probe.qdrant(tenant.id, 'GET', '/collections');
      const names = (
        (listed.json.result as { collections?: { name: string }[] } | undefined)?.collections ?? []
      ).map((c) => c.name);
      check.expect(
        names.length === 1 && names[0] === tenantNames(tenant.id).collection,
        `the JWT lists collections [${names.join(', ')}]`,
      );
      const own = await probe.scroll(tenant.id, tenant.id, reading);
      check.expect(
        own.status === 200 && own.points > 0,
        `own collection: ${own.status}, ${own.points} points`,
      );
      judge(check, ctx, tenant, reading, true);
      for (const other of others) {
        const theirs = await probe.scroll(tenant.id, other.id);
        check.expect(theirs.status === 403, `${other.slot}'s collection answered ${theirs.status}`);
      }
      check.note(
        `lists only its collection; ${own.points} points, ${reading.opened} sealed values opened; others' collections 403`,
      );
    },
  );
}

async function redis(
  ctx: RunContext,
  probe: StoreProbe,
  tenant: Tenant,
  others: Tenant[],
): Promise<void> {
  await ctx.suite.case(
    "stores: Redis as the tenant's ACL user",
    againstAll(tenant),
    async (check) => {
      const reading = await probe.reading(tenant.id);
      const keys = await probe.cacheKeys(tenant.id);
      const own = await probe.asAclUser('redis', tenant.id, async (r) => {
        const values = [];
        for (const key of keys)
          values.push(await r.get(key).catch((e: Error) => `unreadable: ${e.message}`));
        await r.get(`${tenantNames(tenant.id).keyPrefix}conformance-probe`);
        return values;
      });
      check.expect(own.error === undefined, `own keys: ${own.error ?? ''}`);
      reading.add(keys);
      reading.add(own.value ?? []);
      // What opened with the tenant's key (cached answers) is the tenant's: its canaries show.
      judge(check, ctx, tenant, reading, reading.opened > 0);
      for (const other of others) {
        const target =
          (await probe.cacheKeys(other.id))[0] ??
          `${tenantNames(other.id).keyPrefix}conformance-probe`;
        const theirs = await probe.asAclUser('redis', tenant.id, (r) => r.get(target));
        check.expect(
          NOPERM.test(theirs.error ?? ''),
          `${other.slot}'s key: ${theirs.error ?? 'readable'}`,
        );
      }
      check.note(
        `${keys.length} own keys read, ${reading.opened} sealed values opened; others' keys NOPERM; control: own keys readable`,
      );
    },
  );
}

async function falkordb(
  ctx: RunContext,
  probe: StoreProbe,
  tenant: Tenant,
  others: Tenant[],
): Promise<void> {
  await ctx.suite.case(
    "stores: FalkorDB as the tenant's ACL user",
    againstAll(tenant),
    async (check) => {
      const reading = await probe.reading(tenant.id);
      const query = 'MATCH (n) RETURN labels(n), properties(n)';
      const own = await probe.asAclUser('falkordb', tenant.id, (r) =>
        r.call('GRAPH.RO_QUERY', tenantNames(tenant.id).graphKey, query),
      );
      const rows =
        Array.isArray(own.value) && Array.isArray(own.value[1]) ? own.value[1].length : 0;
      check.expect(
        own.error === undefined && rows > 0,
        `own graph: ${own.error ?? `${rows} nodes`}`,
      );
      reading.add(own.value);
      judge(check, ctx, tenant, reading, false);
      for (const other of others) {
        const theirs = await probe.asAclUser('falkordb', tenant.id, (r) =>
          r.call('GRAPH.RO_QUERY', tenantNames(other.id).graphKey, 'MATCH (n) RETURN count(n)'),
        );
        check.expect(
          NOPERM.test(theirs.error ?? ''),
          `${other.slot}'s graph: ${theirs.error ?? 'readable'}`,
        );
      }
      check.note(`${rows} nodes of its own graph, none foreign; others' graphs NOPERM`);
    },
  );
}

/** Every store, read with each tenant's own credentials (local runs only). */
export async function storeCases(ctx: RunContext, probe: StoreProbe | undefined): Promise<void> {
  for (const tenant of ctx.world.tenants) {
    const others = ctx.world.tenants.filter((t) => t !== tenant);
    if (probe === undefined) {
      for (const store of STORES) {
        ctx.suite.skip(
          `stores: ${store}`,
          againstAll(tenant),
          'remote',
          'stores are not reachable with tenant credentials from here',
        );
      }
      continue;
    }
    await postgres(ctx, probe, tenant, others);
    await qdrant(ctx, probe, tenant, others);
    await redis(ctx, probe, tenant, others);
    await falkordb(ctx, probe, tenant, others);
  }
}
