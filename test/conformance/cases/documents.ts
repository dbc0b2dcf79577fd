import { SHARED_IDS, onlyId, targetId } from '../corpus.js';
import {
  againstAll,
  crossings,
  dataOf,
  nextCursor,
  type Crossing,
  type RunContext,
} from '../context.js';
import { addDocument } from '../setup.js';
import type { Check } from '../suite.js';
import type { Principal, Tenant } from '../world.js';

/** Every id on every page of `principal`'s document list, pages of `limit`. */
async function listAll(check: Check, principal: Principal, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 50; page++) {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const answer = await check.call(principal, 'GET', `/v1/documents?limit=${limit}${query}`);
    if (!check.status(answer, 200)) break;
    ids.push(...dataOf<{ id: string }>(answer).map((d) => d.id));
    cursor = nextCursor(answer);
    if (cursor === null) break;
  }
  return ids;
}

function docCanaries(tenant: Tenant, id: string) {
  return tenant.docs.get(id)?.canaries ?? [];
}

async function getById(ctx: RunContext, { attacker, victim, boundary }: Crossing): Promise<void> {
  await ctx.suite.case('documents: GET by id', boundary, async (check) => {
    const id = onlyId(victim);
    const denied = await check.call(attacker.user, 'GET', `/v1/documents/${id}`);
    check.status(denied, 404, 'not_found');
    // 404 exactly like a document that does not exist anywhere.
    const missing = await check.call(attacker.user, 'GET', `/v1/documents/missing-${ctx.runId}`);
    check.expect(denied.text === missing.text, "the 404 differs from a missing document's");
    const allowed = await check.call(victim.user, 'GET', `/v1/documents/${id}`);
    check.status(allowed, 200);
    check.sees(allowed.text, docCanaries(victim, id), `${victim.slot} reading its own document`);
    check.note(
      `${attacker.slot}: 404 like a missing id; control: ${victim.slot} 200 with its canaries`,
    );
  });
}

async function sharedId(ctx: RunContext, { attacker, victim, boundary }: Crossing): Promise<void> {
  await ctx.suite.case('documents: same id, own document', boundary, async (check) => {
    for (const id of SHARED_IDS) {
      const mine = await check.call(attacker.user, 'GET', `/v1/documents/${id}`);
      check.status(mine, 200);
      check.sees(mine.text, docCanaries(attacker, id), `${attacker.slot} ${id}`);
      const theirs = await check.call(victim.user, 'GET', `/v1/documents/${id}`);
      check.sees(theirs.text, docCanaries(victim, id), `${victim.slot} ${id}`);
    }
    check.note(`ids ${SHARED_IDS.join(', ')} name each tenant's own document`);
  });
}

async function deleteById(
  ctx: RunContext,
  { attacker, victim, boundary }: Crossing,
): Promise<void> {
  await ctx.suite.case('documents: DELETE by id', boundary, async (check) => {
    const id = onlyId(victim);
    check.status(
      await check.call(attacker.admin, 'DELETE', `/v1/documents/${id}`),
      404,
      'not_found',
    );
    const still = await check.call(victim.user, 'GET', `/v1/documents/${id}`);
    check.status(still, 200);
    check.sees(still.text, docCanaries(victim, id), `${victim.slot}'s document after the attempt`);
    // Control: the attacker's admin deletes a document of its own.
    const own = `own-delete-${victim.slot}`;
    if (await addDocument(check, attacker, own)) {
      check.status(await check.call(attacker.admin, 'DELETE', `/v1/documents/${own}`), 200);
      check.status(await check.call(attacker.user, 'GET', `/v1/documents/${own}`), 404);
      attacker.docs.delete(own);
    }
    check.note(
      `404, ${victim.slot}'s document intact; control: ${attacker.slot} deletes its own (200)`,
    );
  });
}

async function replaceById(
  ctx: RunContext,
  { attacker, victim, boundary }: Crossing,
): Promise<void> {
  await ctx.suite.case('documents: replace by id', boundary, async (check) => {
    const id = targetId(victim);
    // Writing the victim's id lands in the attacker's own tenant, never over the victim's.
    const before = attacker.docs.get(id);
    if (await addDocument(check, attacker, id)) {
      const own = await check.call(attacker.user, 'GET', `/v1/documents/${id}`);
      check.sees(own.text, docCanaries(attacker, id), `${attacker.slot}'s own copy of ${id}`);
      const victims = await check.call(victim.user, 'GET', `/v1/documents/${id}`);
      check.status(victims, 200);
      check.sees(victims.text, docCanaries(victim, id), `${victim.slot}'s ${id} after the write`);
      check.status(await check.call(attacker.admin, 'DELETE', `/v1/documents/${id}`), 200);
      const after = await check.call(victim.user, 'GET', `/v1/documents/${id}`);
      check.status(after, 200);
    }
    if (before === undefined) attacker.docs.delete(id);
    check.note(`write went to ${attacker.slot}; ${victim.slot}'s document unchanged and kept`);
  });
}

async function list(ctx: RunContext, tenant: Tenant): Promise<void> {
  await ctx.suite.case('documents: list, every page', againstAll(tenant), async (check) => {
    const ids = (await listAll(check, tenant.user, 2)).sort();
    const expected = [...tenant.docs.keys()].sort();
    check.expect(
      JSON.stringify(ids) === JSON.stringify(expected),
      `listed [${ids.join(', ')}], expected [${expected.join(', ')}]`,
    );
    check.note(`${ids.length} own documents over pages of 2; no other tenant's`);
  });
}

async function cursor(ctx: RunContext, { attacker, victim, boundary }: Crossing): Promise<void> {
  await ctx.suite.case('documents: list cursor', boundary, async (check) => {
    const first = await check.call(victim.user, 'GET', '/v1/documents?limit=2');
    const given = nextCursor(first);
    if (!check.expect(given !== null, `${victim.slot} got no cursor`)) return;
    const path = `/v1/documents?limit=2&cursor=${encodeURIComponent(given ?? '')}`;
    const denied = await check.call(attacker.user, 'GET', path);
    check.status(denied, 400, 'invalid_request');
    const allowed = await check.call(victim.user, 'GET', path);
    check.status(allowed, 200);
    check.sees(allowed.text, victim.canaries, `${victim.slot}'s second page`);
    check.note(
      `${victim.slot}'s cursor: 400 for ${attacker.slot}; control: ${victim.slot} 200, page 2`,
    );
  });
}

/** Documents by id (get, replace, delete), the list and its cursors, across every boundary. */
export async function documentCases(ctx: RunContext): Promise<void> {
  for (const crossing of crossings(ctx.world)) {
    await getById(ctx, crossing);
    await sharedId(ctx, crossing);
    await deleteById(ctx, crossing);
    await replaceById(ctx, crossing);
    await cursor(ctx, crossing);
  }
  for (const tenant of ctx.world.tenants) await list(ctx, tenant);
}
