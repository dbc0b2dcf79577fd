import { type RunContext, dataOf } from '../context.js';
import { field, type Exchange } from '../http.js';
import type { Check } from '../suite.js';
import type { Msp, Principal, Tenant } from '../world.js';

/** A tenant and the operator of the other MSP, who must not reach it. */
interface MspCrossing {
  readonly tenant: Tenant;
  readonly owner: Principal;
  readonly foreign: Principal;
  readonly boundary: string;
}

function mspCrossings(ctx: RunContext): MspCrossing[] {
  return ctx.world.tenants.map((tenant) => {
    const other = tenant.msp.label === 'A' ? ctx.world.msps.B : ctx.world.msps.A;
    return {
      tenant,
      owner: tenant.msp.operator,
      foreign: other.operator,
      boundary: `operator ${other.label} → ${tenant.slot} (MSP ${tenant.msp.label})`,
    };
  });
}

/** The 404 of a foreign tenant must read exactly like the 404 of an id no one has. */
async function sameAsMissing(
  check: Check,
  ctx: RunContext,
  x: MspCrossing,
  suffix = '',
): Promise<void> {
  const missingId = `cnf-${ctx.runId}-none`;
  const foreign = await check.call(x.foreign, 'GET', `/v1/tenants/${x.tenant.id}${suffix}`);
  const missing = await check.call(x.foreign, 'GET', `/v1/tenants/${missingId}${suffix}`);
  check.status(foreign, 404, 'not_found');
  check.expect(
    foreign.text.replaceAll(x.tenant.id, '<id>') === missing.text.replaceAll(missingId, '<id>'),
    `GET ${suffix || 'tenant'}: the 404 differs from a missing tenant's`,
  );
}

async function getAndUsage(ctx: RunContext, x: MspCrossing): Promise<void> {
  await ctx.suite.case('tenants: GET and usage', x.boundary, async (check) => {
    await sameAsMissing(check, ctx, x);
    await sameAsMissing(check, ctx, x, '/usage');
    const own = await check.call(x.owner, 'GET', `/v1/tenants/${x.tenant.id}`);
    check.status(own, 200);
    check.sees(own.text, [x.tenant.nameCanary], 'own operator reading the tenant');
    const usage = await check.call(x.owner, 'GET', `/v1/tenants/${x.tenant.id}/usage`);
    check.status(usage, 200);
    check.expect(field(usage, 'tenant_id') === x.tenant.id, 'usage of another tenant');
    check.note('404 exactly like a missing id; control: own operator 200 (tenant, usage)');
  });
}

async function patch(ctx: RunContext, x: MspCrossing): Promise<void> {
  await ctx.suite.case('tenants: PATCH and suspend', x.boundary, async (check) => {
    const path = `/v1/tenants/${x.tenant.id}`;
    for (const body of [
      { name: 'Taken over' },
      { status: 'suspended' },
      { quotas: { requests_per_minute: 1 } },
      { pii: 'off' },
    ]) {
      check.status(await check.call(x.foreign, 'PATCH', path, { body }), 404, 'not_found');
    }
    const after = await check.call(x.owner, 'GET', path);
    check.sees(after.text, [x.tenant.nameCanary], 'name after the attempts');
    check.expect(
      field(after, 'status') === 'active',
      `status is ${String(field(after, 'status'))}`,
    );
    check.status(await check.call(x.tenant.user, 'GET', '/v1/documents?limit=1'), 200);
    const control = await check.call(x.owner, 'PATCH', path, {
      body: { name: x.tenant.name, status: 'active' },
    });
    check.status(control, 200);
    check.note('404 and unchanged, the tenant still serves; control: own operator PATCH 200');
  });
}

async function remove(ctx: RunContext, x: MspCrossing): Promise<void> {
  await ctx.suite.case('tenants: DELETE', x.boundary, async (check) => {
    check.status(
      await check.call(x.foreign, 'DELETE', `/v1/tenants/${x.tenant.id}`),
      404,
      'not_found',
    );
    check.status(await check.call(x.owner, 'GET', `/v1/tenants/${x.tenant.id}`), 200);
    const doc = [...x.tenant.docs.values()][0];
    const read = await check.call(x.tenant.user, 'GET', `/v1/documents/${doc?.id ?? ''}`);
    check.status(read, 200);
    check.sees(read.text, x.tenant.canaries, 'the tenant reading its document afterwards');
    // Control on a tenant made for it: refused to the other MSP, deleted by its own.
    const spare = `cnf-${ctx.runId}-del-${x.tenant.slot}`;
    const made = await check.call(x.owner, 'POST', '/v1/tenants', {
      body: { id: spare, name: spare },
    });
    if (check.status(made, 201)) {
      check.status(await check.call(x.foreign, 'DELETE', `/v1/tenants/${spare}`), 404, 'not_found');
      const removed = await check.call(x.owner, 'DELETE', `/v1/tenants/${spare}`);
      check.status(removed, 200);
      check.expect(field(removed, 'tenant_id') === spare, 'no deletion receipt');
    }
    check.note(
      '404, tenant intact and serving; control: own operator deletes a spare tenant (receipt)',
    );
  });
}

async function listAndCreate(ctx: RunContext, msp: Msp, other: Msp): Promise<void> {
  const boundary = `operator ${msp.label} → MSP ${other.label}`;
  await ctx.suite.case('tenants: list, query, headers, taken id', boundary, async (check) => {
    const operator = msp.operator;
    const ids = (answer: Exchange) => dataOf<{ id: string }>(answer).map((t) => t.id);
    const listed = await check.call(operator, 'GET', '/v1/tenants');
    check.status(listed, 200);
    const theirs = other.tenants.filter((t) => ids(listed).includes(t.id));
    check.expect(theirs.length === 0, `lists ${theirs.length} tenant(s) of MSP ${other.label}`);
    const mine = msp.tenants.filter((t) => ids(listed).includes(t.id));
    check.expect(
      mine.length === msp.tenants.length,
      `lists ${mine.length} of its ${msp.tenants.length} tenants`,
    );
    const victim = other.tenants[0] as Tenant;
    const otherMsp = String(
      field(await check.call(other.operator, 'GET', `/v1/tenants/${victim.id}`), 'msp_id'),
    );
    check.status(
      await check.call(operator, 'GET', `/v1/tenants?msp_id=${otherMsp}`),
      400,
      'invalid_request',
    );
    const headed = await check.call(operator, 'GET', '/v1/tenants', {
      headers: { 'x-msp-id': otherMsp, 'x-tenant-id': victim.id },
    });
    check.expect(!ids(headed).includes(victim.id), 'x-msp-id widened the list');
    const taken = await check.call(operator, 'POST', '/v1/tenants', {
      body: { id: victim.id, name: 'Mine now' },
    });
    check.status(taken, 409, 'tenant_exists');
    check.expect(!taken.text.includes(otherMsp), 'the 409 names the MSP that holds the id');
    const fresh = `cnf-${ctx.runId}-new-${msp.label.toLowerCase()}`;
    const made = await check.call(operator, 'POST', '/v1/tenants', {
      body: { id: fresh, name: 'Mine now' },
    });
    if (check.status(made, 201))
      check.status(await check.call(operator, 'DELETE', `/v1/tenants/${fresh}`), 200);
    check.note(
      `only its own tenants; query 400, headers ignored; taken id 409 naming no one; control: a fresh id 201`,
    );
  });
}

/** The operators' tenants API across MSPs: 404 (never 403) for another MSP's tenants. */
export async function tenantCases(ctx: RunContext): Promise<void> {
  await listAndCreate(ctx, ctx.world.msps.A, ctx.world.msps.B);
  await listAndCreate(ctx, ctx.world.msps.B, ctx.world.msps.A);
  for (const x of mspCrossings(ctx)) {
    await getAndUsage(ctx, x);
    await patch(ctx, x);
    await remove(ctx, x);
  }
}
