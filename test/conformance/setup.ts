import { makeDocument, seedIds } from './corpus.js';
import type { RunContext } from './context.js';
import { errorCode } from './http.js';
import type { Check } from './suite.js';
import type { Tenant } from './world.js';

/**
 * Creates the run's tenants with their MSP's operator token. A tenant left over from an
 * earlier remote run with the same id (and the same MSP) is deleted first, so every run
 * starts from empty tenants.
 */
export async function createTenants(ctx: RunContext): Promise<boolean> {
  let ok = true;
  await ctx.suite.case('setup: create tenants', 'A: a1, a2; B: b1', async (check) => {
    for (const tenant of ctx.world.tenants) {
      const operator = tenant.msp.operator;
      const path = `/v1/tenants/${tenant.id}`;
      if ((await check.call(operator, 'GET', path)).status === 200) {
        check.status(await check.call(operator, 'DELETE', path), 200);
      }
      const created = await check.call(operator, 'POST', '/v1/tenants', {
        body: { id: tenant.id, name: tenant.name },
      });
      if (!check.status(created, 201)) {
        check.fail(`${tenant.id}: ${errorCode(created) ?? created.status} (is the id taken?)`);
      }
    }
    check.note(`3 tenants in 2 MSPs: ${ctx.world.tenants.map((t) => t.id).join(', ')}`);
    ok = check.failures.length === 0;
  });
  return ok;
}

/** Adds a document of `tenant` (its canaries registered first) through its admin. */
export async function addDocument(check: Check, tenant: Tenant, id: string): Promise<boolean> {
  const doc = makeDocument(tenant, id);
  const put = await check.call(tenant.admin, 'POST', '/v1/documents', {
    body: { id: doc.id, title: doc.title, text: doc.text, metadata: doc.metadata },
  });
  if (!check.status(put, 201)) return false;
  tenant.docs.set(id, doc);
  return true;
}

/** Seeds every tenant with its documents. */
export async function seedDocuments(ctx: RunContext): Promise<boolean> {
  let ok = true;
  await ctx.suite.case('setup: seed documents', 'each tenant', async (check) => {
    for (const tenant of ctx.world.tenants) {
      for (const id of seedIds(tenant)) await addDocument(check, tenant, id);
    }
    const canaries = ctx.world.tenants.reduce((n, t) => n + t.canaries.length, 0);
    check.note(
      `${ctx.world.tenants.length * seedIds(ctx.world.tenants[0] as Tenant).length} documents, ${canaries} canaries in titles, texts and metadata`,
    );
    ok = check.failures.length === 0;
  });
  return ok;
}

/**
 * Deletes the run's tenants with their own operator; a deletion receipt is the control of
 * the cross-MSP deletion refused earlier. Afterwards their tokens no longer reach anything.
 */
export async function deleteTenants(ctx: RunContext): Promise<void> {
  await ctx.suite.case('cleanup: delete tenants', 'each MSP, own tenants', async (check) => {
    for (const tenant of ctx.world.tenants) {
      const removed = await check.call(tenant.msp.operator, 'DELETE', `/v1/tenants/${tenant.id}`);
      check.status(removed, 200);
      const receipt = removed.json as { tenant_id?: unknown } | undefined;
      check.expect(receipt?.tenant_id === tenant.id, `${tenant.id}: no deletion receipt`);
      // Other gateway processes may keep a tenant's status for a few seconds (API.md: "a
      // token whose tenant is ... deleted is refused"), so a deployment gets a short grace.
      let status = 0;
      for (let attempt = 0; attempt < 10; attempt++) {
        status = (await check.call(tenant.user, 'GET', '/v1/documents')).status;
        if (status === 401 || status === 403) break;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
      check.expect(
        status === 401 || status === 403,
        `${tenant.user.label} still answered ${status} 10 s after deletion`,
      );
    }
    check.note("200 with receipts; deleted tenants' tokens refused");
  });
}
