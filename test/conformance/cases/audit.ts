import {
  againstAll,
  crossings,
  dataOf,
  nextCursor,
  ownRequestIds,
  type Crossing,
  type RunContext,
} from '../context.js';
import type { Check } from '../suite.js';
import type { Tenant } from '../world.js';
import { exportCases } from './audit-export.js';

interface EventRow {
  readonly tenant_id: string | null;
  readonly request_id: string;
  readonly seq: number;
}

/** Every audit event `tenant`'s auditor can page through. */
async function allEvents(check: Check, tenant: Tenant): Promise<EventRow[]> {
  const events: EventRow[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const answer = await check.call(tenant.auditor, 'GET', `/v1/audit/events?limit=1000${query}`);
    if (!check.status(answer, 200)) break;
    events.push(...dataOf<EventRow>(answer));
    cursor = nextCursor(answer);
    if (cursor === null) break;
  }
  return events;
}

async function events(ctx: RunContext, tenant: Tenant): Promise<void> {
  await ctx.suite.case('audit: events, every page', againstAll(tenant), async (check) => {
    const before = ownRequestIds(ctx, tenant);
    const found = await allEvents(check, tenant);
    // The paging calls themselves are the tenant's too, and may show on later pages.
    const own = ownRequestIds(ctx, tenant);
    const otherTenant = found.filter((e) => e.tenant_id !== tenant.id);
    check.expect(otherTenant.length === 0, `${otherTenant.length} event(s) of another tenant`);
    const notOurs = found.filter((e) => !own.has(e.request_id));
    check.expect(
      notOurs.length === 0,
      `${notOurs.length} event(s) of requests ${tenant.slot} did not make`,
    );
    const seen = new Set(found.map((e) => e.request_id));
    const missing = [...before].filter((id) => !seen.has(id));
    check.expect(
      missing.length === 0,
      `${missing.length} of ${tenant.slot}'s ${before.size} requests have no event`,
    );
    check.note(
      `${found.length} events, all ${tenant.slot}'s own requests; control: every one of its ${before.size} requests is there`,
    );
  });
}

async function naming(ctx: RunContext, { attacker, victim, boundary }: Crossing): Promise<void> {
  await ctx.suite.case(
    'audit: cursor, query and headers of another tenant',
    boundary,
    async (check) => {
      const first = await check.call(victim.auditor, 'GET', '/v1/audit/events?limit=5');
      const cursor = nextCursor(first);
      if (!check.expect(cursor !== null, `${victim.slot} got no cursor`)) return;
      const path = `/v1/audit/events?limit=1000&cursor=${encodeURIComponent(cursor ?? '')}`;
      const borrowed = await check.call(attacker.auditor, 'GET', path);
      check.expect(
        borrowed.status === 200 || borrowed.status === 400,
        `borrowed cursor: ${borrowed.status}`,
      );
      const foreign = dataOf<EventRow>(borrowed).filter((e) => e.tenant_id !== attacker.id);
      check.expect(
        foreign.length === 0,
        `borrowed cursor: ${foreign.length} event(s) of another tenant`,
      );
      for (const query of [`tenant_id=${victim.id}`, `msp_id=${victim.id}`]) {
        check.status(
          await check.call(attacker.auditor, 'GET', `/v1/audit/events?${query}`),
          400,
          'invalid_request',
        );
        check.status(
          await check.call(attacker.auditor, 'GET', `/v1/audit/export?${query}`),
          400,
          'invalid_request',
        );
      }
      const headed = await check.call(attacker.auditor, 'GET', '/v1/audit/events?limit=1000', {
        headers: { 'x-tenant-id': victim.id },
      });
      check.status(headed, 200);
      const headedForeign = dataOf<EventRow>(headed).filter((e) => e.tenant_id !== attacker.id);
      check.expect(
        headedForeign.length === 0,
        `x-tenant-id: ${headedForeign.length} foreign event(s)`,
      );
      const control = await check.call(victim.auditor, 'GET', path);
      check.status(control, 200);
      const page = dataOf<EventRow>(control);
      check.expect(
        page.length > 0 && page.every((e) => e.tenant_id === victim.id),
        `${victim.slot}'s own cursor page`,
      );
      check.note(
        `cursor gives only own events, tenant in query 400, in headers ignored; control: ${victim.slot}'s cursor 200`,
      );
    },
  );
}

async function interactions(ctx: RunContext, tenant: Tenant): Promise<void> {
  await ctx.suite.case('audit: interactions', againstAll(tenant), async (check) => {
    const rows: { request_id: string }[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page++) {
      const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
      const answer = await check.call(
        tenant.auditor,
        'GET',
        `/v1/audit/interactions?limit=1000${query}`,
      );
      if (!check.status(answer, 200)) break;
      rows.push(...dataOf<{ request_id: string }>(answer));
      cursor = nextCursor(answer);
      if (cursor === null) break;
    }
    const own = ownRequestIds(ctx, tenant);
    const notOurs = rows.filter((r) => !own.has(r.request_id));
    check.expect(
      notOurs.length === 0,
      `${notOurs.length} interaction(s) of requests ${tenant.slot} did not make`,
    );
    const asked = ctx.client.exchanges.filter(
      (e) =>
        e.principal.tenant === tenant &&
        e.status === 200 &&
        (e.path === '/v1/retrieve' || e.path === '/v1/chat/completions'),
    );
    const recorded = new Set(rows.map((r) => r.request_id));
    const kept = asked.filter((e) => recorded.has(e.requestId)).length;
    check.expect(
      kept > 0,
      `no interaction recorded for ${tenant.slot}'s ${asked.length} successful retrieve/chat calls`,
    );
    check.note(
      `${rows.length} interactions, all ${tenant.slot}'s; control: ${kept} of its ${asked.length} retrieve/chat calls recorded`,
    );
  });
}

/** The auditor's API: events, cursors, exports, verification and interactions. */
export async function auditCases(ctx: RunContext): Promise<void> {
  for (const tenant of ctx.world.tenants) await events(ctx, tenant);
  for (const crossing of crossings(ctx.world)) await naming(ctx, crossing);
  for (const tenant of ctx.world.tenants) await exportCases(ctx, tenant);
  for (const tenant of ctx.world.tenants) await interactions(ctx, tenant);
}
