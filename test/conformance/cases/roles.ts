import { SHARED_QUERY, onlyId } from '../corpus.js';
import type { RunContext } from '../context.js';
import type { CallOptions } from '../http.js';
import { addDocument } from '../setup.js';
import type { Check } from '../suite.js';
import type { Principal, Tenant } from '../world.js';

type Route = readonly [method: string, path: string, options?: CallOptions];

const retrieve: CallOptions = { body: { query: SHARED_QUERY, top_k: 5 } };
const chat: CallOptions = {
  body: { model: 'default', messages: [{ role: 'user', content: SHARED_QUERY }] },
};

/**
 * Content routes: what only `user` and `admin` may call. Chat is left out while the gateway
 * has no chat route: the chat cases report that, not every role case.
 */
const contentRoutes = (ctx: RunContext, tenant: Tenant): Route[] => [
  ['GET', '/v1/documents'],
  ['GET', `/v1/documents/${onlyId(tenant)}`],
  ['POST', '/v1/retrieve', retrieve],
  ...(ctx.hasChat ? [['POST', '/v1/chat/completions', chat] as const] : []),
  ['GET', '/v1/models'],
];

const auditRoutes: Route[] = [
  ['GET', '/v1/audit/events'],
  ['GET', '/v1/audit/export'],
  ['GET', '/v1/audit/interactions'],
  ['GET', '/v1/audit/verify'],
];

/** Each route answers `status` to `principal`. */
async function refused(check: Check, principal: Principal, routes: readonly Route[], status = 403) {
  for (const [method, path, options] of routes) {
    const answer = await check.call(principal, method, path, options);
    check.status(answer, status);
  }
}

async function writers(ctx: RunContext, tenant: Tenant): Promise<void> {
  await ctx.suite.case('roles: user cannot write documents', tenant.slot, async (check) => {
    const probe = `role-probe-${tenant.slot}`;
    const body = { id: probe, title: 'Role probe', text: 'A user may not write this.' };
    check.status(
      await check.call(tenant.user, 'POST', '/v1/documents', { body }),
      403,
      'forbidden',
    );
    check.status(await check.call(tenant.user, 'GET', `/v1/documents/${probe}`), 404);
    check.status(
      await check.call(tenant.user, 'DELETE', `/v1/documents/${onlyId(tenant)}`),
      403,
      'forbidden',
    );
    check.status(await check.call(tenant.user, 'GET', `/v1/documents/${onlyId(tenant)}`), 200);
    // Control: the admin writes and deletes.
    if (await addDocument(check, tenant, probe)) {
      check.status(await check.call(tenant.user, 'GET', `/v1/documents/${probe}`), 200);
      check.status(await check.call(tenant.admin, 'DELETE', `/v1/documents/${probe}`), 200);
      tenant.docs.delete(probe);
    }
    check.note('user POST/DELETE 403, nothing changed; control: admin 201/200');
  });
}

async function auditors(ctx: RunContext, tenant: Tenant): Promise<void> {
  await ctx.suite.case('roles: auditor cannot read content', tenant.slot, async (check) => {
    await refused(check, tenant.auditor, contentRoutes(ctx, tenant));
    const control = await check.call(tenant.user, 'GET', `/v1/documents/${onlyId(tenant)}`);
    check.status(control, 200);
    check.sees(control.text, tenant.canaries, 'user reading its document');
    check.note('documents, retrieve, chat, models 403; control: user 200');
  });
  await ctx.suite.case(
    'roles: user and admin cannot read the audit trail',
    tenant.slot,
    async (check) => {
      await refused(check, tenant.user, auditRoutes);
      await refused(check, tenant.admin, auditRoutes);
      check.status(await check.call(tenant.auditor, 'GET', '/v1/audit/verify'), 200);
      check.note('events, export, interactions, verify 403; control: auditor 200');
    },
  );
}

async function operators(ctx: RunContext, tenant: Tenant): Promise<void> {
  const operator = tenant.msp.operator;
  await ctx.suite.case(
    'roles: operator cannot read content',
    `operator ${tenant.msp.label} → ${tenant.slot}`,
    async (check) => {
      const hints = { 'x-tenant-id': tenant.id };
      const routes = [...contentRoutes(ctx, tenant), ...auditRoutes].map(
        ([m, p, o]) => [m, p, { ...o, headers: hints }] as const,
      );
      await refused(check, operator, routes);
      check.status(await check.call(operator, 'GET', `/v1/documents?tenant_id=${tenant.id}`), 403);
      check.status(await check.call(operator, 'GET', `/v1/tenants/${tenant.id}`), 200);
      check.note(
        'content and audit routes 403 even naming the tenant; control: its tenant record 200',
      );
    },
  );
  await ctx.suite.case(
    'roles: tenant roles cannot use the tenants API',
    tenant.slot,
    async (check) => {
      for (const principal of [tenant.user, tenant.admin, tenant.auditor]) {
        await refused(check, principal, [
          ['GET', '/v1/tenants'],
          ['GET', `/v1/tenants/${tenant.id}`],
          ['GET', `/v1/tenants/${tenant.id}/usage`],
          ['PATCH', `/v1/tenants/${tenant.id}`, { body: { pii: 'off' } }],
          ['DELETE', `/v1/tenants/${tenant.id}`],
        ]);
      }
      check.status(await check.call(operator, 'GET', `/v1/tenants/${tenant.id}/usage`), 200);
      check.note('list, get, usage, patch, delete 403; control: operator 200');
    },
  );
}

async function anonymous(ctx: RunContext): Promise<void> {
  const tenant = ctx.world.tenants[0] as Tenant;
  await ctx.suite.case(
    'no token: refused; public routes hold no data',
    'anonymous',
    async (check) => {
      const nobody = ctx.world.anonymous;
      await refused(
        check,
        nobody,
        [...contentRoutes(ctx, tenant), ...auditRoutes, ['GET', '/v1/tenants']],
        401,
      );
      const forged = { ...nobody, label: 'forged token', token: 'eyJhbGciOiJub25lIn0.e30.' };
      await refused(check, forged, [['GET', '/v1/documents']], 401);
      for (const path of ['/healthz', '/readyz', '/metrics', '/docs-json']) {
        check.status(await check.call(nobody, 'GET', path), 200);
      }
      check.status(await check.call(tenant.user, 'GET', '/v1/documents'), 200);
      check.note(
        '401 without a token or with alg none; /healthz, /readyz, /metrics, /docs-json hold no canary; control: token 200',
      );
    },
  );
}

/** Role boundaries inside each tenant, operators and content, callers without a token. */
export async function roleCases(ctx: RunContext): Promise<void> {
  for (const tenant of ctx.world.tenants) {
    await writers(ctx, tenant);
    await auditors(ctx, tenant);
    await operators(ctx, tenant);
  }
  await anonymous(ctx);
}
