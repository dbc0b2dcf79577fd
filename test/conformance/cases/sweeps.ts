import { describeCanaries, findCanaries } from '../canaries.js';
import type { RunContext } from '../context.js';
import type { Tenant } from '../world.js';

async function responses(ctx: RunContext): Promise<void> {
  await ctx.suite.case('sweep: every response body and header', 'every caller', async (check) => {
    const exchanges = ctx.client.exchanges;
    let leaking = 0;
    for (const exchange of exchanges) {
      const leaks = ctx.client.leaksIn(exchange);
      if (leaks.length === 0) continue;
      leaking += 1;
      check.fail(
        `${exchange.principal.label} ${exchange.method} ${exchange.path}: ${describeCanaries(leaks)}`,
      );
    }
    // Control: the scan does find canaries where they belong.
    for (const tenant of ctx.world.tenants) {
      const seen = exchanges.filter(
        (e) => e.principal.tenant === tenant && findCanaries(e.text, tenant.canaries).length > 0,
      ).length;
      check.expect(seen > 0, `no response showed ${tenant.slot} its own canaries`);
    }
    check.note(
      `${exchanges.length} responses scanned, ${leaking} with a foreign canary or token; control: own canaries found`,
    );
  });
}

async function logs(ctx: RunContext): Promise<void> {
  const local = ctx.local;
  if (local === undefined) {
    ctx.suite.skip(
      'sweep: gateway logs',
      'every tenant',
      'remote',
      "the deployment's logs are not readable from here",
    );
    return;
  }
  await ctx.suite.case('sweep: gateway logs', 'every tenant', async (check) => {
    const text = local.gateway.logs.join('');
    // Logs belong to no tenant: no canary of anyone, no token, may appear in them.
    check.lacks(text, [...ctx.world.canaries, ...ctx.world.tokens], 'gateway logs');
    const ids = ctx.client.exchanges.map((e) => e.requestId);
    const logged = ids.filter((id) => text.includes(id)).length;
    check.expect(logged > 0, 'no request of the run was logged: the scan read nothing');
    check.note(
      `${local.gateway.logs.length} lines, no canary or token; control: ${logged} of ${ids.length} requests logged`,
    );
  });
}

function llmRequestsOf(ctx: RunContext, tenant: Tenant): Set<number> {
  const indexes = new Set<number>();
  for (const exchange of ctx.client.exchanges) {
    if (exchange.principal.tenant !== tenant || exchange.llm === undefined) continue;
    for (let i = exchange.llm[0]; i < exchange.llm[1]; i++) indexes.add(i);
  }
  return indexes;
}

async function llm(ctx: RunContext): Promise<void> {
  const local = ctx.local;
  if (local === undefined) {
    ctx.suite.skip(
      'sweep: LLM and embeddings requests',
      'every tenant',
      'remote',
      "the deployment's LLM is not observable from here",
    );
    return;
  }
  await ctx.suite.case('sweep: LLM and embeddings requests', 'every tenant', async (check) => {
    const requests = local.llm.requests;
    const text = (i: number) =>
      JSON.stringify({ headers: requests[i]?.headers, body: requests[i]?.body });
    const attributed = new Set<number>();
    for (const tenant of ctx.world.tenants) {
      const own = llmRequestsOf(ctx, tenant);
      for (const i of own) attributed.add(i);
      const all = [...own].map(text).join('\n');
      check.lacks(
        all,
        [...ctx.world.foreignTo(tenant), ...ctx.world.tokens],
        `requests made for ${tenant.slot}`,
      );
      check.sees(all, tenant.canaries, `requests made for ${tenant.slot}`);
    }
    // A request made outside any call of the run belongs to no tenant: it may carry no canary.
    const stray = requests.map((_, i) => i).filter((i) => !attributed.has(i));
    check.lacks(
      stray.map(text).join('\n'),
      [...ctx.world.canaries, ...ctx.world.tokens],
      'requests outside any call',
    );
    check.note(
      `${requests.length} requests; each tenant's carry its canaries and no one else's, nor a token`,
    );
  });
}

/** The final sweeps: every response, the gateway's logs, everything the test LLM received. */
export async function sweepCases(ctx: RunContext): Promise<void> {
  await responses(ctx);
  await logs(ctx);
  await llm(ctx);
}
