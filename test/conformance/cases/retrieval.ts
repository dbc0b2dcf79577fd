import { findCanaries } from '../canaries.js';
import { SHARED_QUERY, onlyId } from '../corpus.js';
import { againstAll, crossings, passages, type Crossing, type RunContext } from '../context.js';
import type { Exchange } from '../http.js';
import type { Check } from '../suite.js';
import type { Tenant } from '../world.js';

/** Every passage of the answer carries a canary of `tenant` (title or text): its own documents. */
function allOwn(check: Check, answer: Exchange, tenant: Tenant, what: string): number {
  const found = passages(answer);
  const foreign = found.filter(
    (p) => findCanaries(`${p.title}\n${p.text}`, tenant.canaries).length === 0,
  );
  check.expect(
    foreign.length === 0,
    `${what}: ${foreign.length} passage(s) not from ${tenant.slot}'s documents`,
  );
  return found.length;
}

async function sharedQuery(ctx: RunContext, tenant: Tenant): Promise<void> {
  await ctx.suite.case('retrieve: identical query', againstAll(tenant), async (check) => {
    const answer = await check.call(tenant.user, 'POST', '/v1/retrieve', {
      body: { query: SHARED_QUERY, top_k: 50 },
    });
    check.status(answer, 200);
    const count = allOwn(check, answer, tenant, 'top 50');
    check.expect(count > 0, "no passages: the control needs the tenant's own documents");
    check.sees(answer.text, tenant.canaries, `${tenant.slot}'s answer`);
    check.note(`top 50 of a query every corpus answers: ${count} passages, all ${tenant.slot}'s`);
  });
}

async function hostileFilters(
  ctx: RunContext,
  { attacker, victim, boundary }: Crossing,
): Promise<void> {
  await ctx.suite.case('retrieve: hostile filters', boundary, async (check) => {
    const retrieve = (body: Record<string, unknown>, headers?: Record<string, string>) =>
      check.call(attacker.user, 'POST', '/v1/retrieve', {
        body: { query: SHARED_QUERY, top_k: 50, ...body },
        ...(headers ? { headers } : {}),
      });
    // Filters that match only the victim's documents find nothing.
    for (const metadata of [
      { owner: victim.slot },
      { tenant_id: victim.id },
      { document_id: onlyId(victim) },
      { collection: `t_${victim.id}` },
    ]) {
      const answer = await retrieve({ filter: { metadata } });
      check.status(answer, 200);
      check.expect(
        passages(answer).length === 0,
        `filter ${JSON.stringify(metadata)} found ${passages(answer).length} passage(s)`,
      );
    }
    // Filters that match both tenants' documents find the attacker's only.
    for (const metadata of [{ project: 'apollo' }, { owner: [attacker.slot, victim.slot] }]) {
      const answer = await retrieve({ filter: { metadata } });
      check.status(answer, 200);
      check.expect(
        allOwn(check, answer, attacker, JSON.stringify(metadata)) > 0,
        'no own passages',
      );
    }
    // Naming the victim in the body is refused; in headers it is ignored.
    check.status(await retrieve({ tenant_id: victim.id }), 400, 'invalid_request');
    check.status(
      await retrieve({ filter: { must: [{ key: 'tenant_id' }] } }),
      400,
      'invalid_request',
    );
    const headed = await retrieve({}, { 'x-tenant-id': victim.id, 'x-msp-id': victim.id });
    check.status(headed, 200);
    allOwn(check, headed, attacker, 'with x-tenant-id');
    // Control: the victim's own filter finds its documents.
    const control = await check.call(victim.user, 'POST', '/v1/retrieve', {
      body: { query: SHARED_QUERY, top_k: 50, filter: { metadata: { owner: victim.slot } } },
    });
    check.status(control, 200);
    check.expect(
      allOwn(check, control, victim, 'control') > 0,
      `${victim.slot}'s own filter found nothing`,
    );
    check.note(
      `victim-only filters empty, shared filters own-only, body 400, headers ignored; control: ${victim.slot} finds its own`,
    );
  });
}

/** Retrieval with identical queries and hostile filters, across every boundary. */
export async function retrievalCases(ctx: RunContext): Promise<void> {
  for (const tenant of ctx.world.tenants) await sharedQuery(ctx, tenant);
  for (const crossing of crossings(ctx.world)) await hostileFilters(ctx, crossing);
}
