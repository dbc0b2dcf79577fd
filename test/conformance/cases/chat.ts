import { againstAll, crossings, dataOf, type Crossing, type RunContext } from '../context.js';
import { errorCode, type Exchange, type GatewayClient } from '../http.js';
import type { Check } from '../suite.js';
import type { Principal, Tenant } from '../world.js';
import { groundedInOwn, injection, readAnswer } from './chat-answers.js';

const CHAT = '/v1/chat/completions';

interface ChatSetup {
  readonly model: string;
  readonly echoingLlm: boolean;
}

function chat(
  check: Check,
  tenant: Tenant,
  model: string,
  messages: readonly { role: string; content: string }[],
  extra: Record<string, unknown> = {},
): Promise<Exchange> {
  return check.call(tenant.user, 'POST', CHAT, {
    body: { model, messages, max_tokens: 512, retrieval: { top_k: 5 }, ...extra },
  });
}

async function promptInjection(ctx: RunContext, tenant: Tenant, setup: ChatSetup): Promise<void> {
  for (const stream of [false, true]) {
    const name = `chat: prompt injection${stream ? ', streamed' : ''}`;
    await ctx.suite.case(name, againstAll(tenant), async (check) => {
      for (const victim of ctx.world.tenants.filter((t) => t !== tenant)) {
        const answer = await chat(check, tenant, setup.model, injection(victim), { stream });
        if (!check.status(answer, 200)) continue;
        const read = readAnswer(answer);
        if (stream) check.expect(read.done, 'the stream did not end with data: [DONE]');
        // A real model may refuse the injection and cite nothing; the echoing one always cites.
        const mustCite = setup.echoingLlm;
        groundedInOwn(check, read, tenant, { ...setup, mustCite }, `asking for ${victim.slot}`);
        // A filter naming the victim's documents through chat finds nothing of theirs.
        const filtered = await chat(check, tenant, setup.model, injection(victim), {
          stream,
          retrieval: { top_k: 5, filter: { metadata: { owner: victim.slot } } },
        });
        check.status(filtered, 200);
        const cited = readAnswer(filtered).citations ?? [];
        check.expect(
          cited.length === 0,
          `filter owner=${victim.slot}: ${cited.length} citation(s)`,
        );
      }
      check.note(
        `no other tenant's canary in answers or citations; control: ${
          setup.echoingLlm
            ? 'cites its own documents, answer holds its canaries'
            : 'every citation is its own'
        }`,
      );
    });
  }
}

async function identicalPrompt(
  ctx: RunContext,
  crossing: Crossing,
  setup: ChatSetup,
): Promise<void> {
  const { attacker: first, victim: second, boundary } = crossing;
  await ctx.suite.case('chat: identical prompt, cache', boundary, async (check) => {
    // A prompt no one asked before, so the first answer is made (and perhaps cached) now.
    const prompt = `Quote the reference code of the quarterly cardiology protocol (${ctx.runId} ${first.slot}${second.slot}).`;
    const messages = [{ role: 'user', content: prompt }];
    const answers = [];
    for (const tenant of [first, first, second]) {
      const answer = await chat(check, tenant, setup.model, messages);
      if (!check.status(answer, 200)) return;
      const read = readAnswer(answer);
      const options = { ...setup, mustCite: true };
      groundedInOwn(check, read, tenant, options, `${tenant.slot}'s answer`);
      answers.push({
        tenant,
        read,
        llmCalls: answer.llm ? answer.llm[1] - answer.llm[0] : undefined,
      });
    }
    const [a, again, b] = answers;
    check.expect(a?.read.content !== b?.read.content, 'both tenants got the same answer');
    check.lacks(b?.read.content ?? '', first.canaries, `${second.slot}'s answer`);
    if (again?.llmCalls !== undefined && b?.llmCalls !== undefined) {
      // Control: the cache is live (the repeat is served from it), so a cache shared across
      // tenants would have answered the second tenant too.
      check.expect(
        again.llmCalls === 0,
        `control: ${first.slot}'s repeated prompt reached the LLM (no cache to test)`,
      );
      check.expect(b.llmCalls > 0, `${second.slot}'s answer came from a cache, not its context`);
    }
    const cache = again?.llmCalls === 0 ? `; ${first.slot}'s repeat served from its cache` : '';
    check.note(
      `${first.slot} twice then ${second.slot}: different answers, each from its own corpus${cache}`,
    );
  });
}

async function llmReceived(ctx: RunContext, tenant: Tenant): Promise<void> {
  const local = ctx.local;
  if (local === undefined) {
    ctx.suite.skip(
      'chat: what the LLM received',
      againstAll(tenant),
      'remote',
      "the deployment's LLM is not observable from here",
    );
    return;
  }
  await ctx.suite.case('chat: what the LLM received', againstAll(tenant), async (check) => {
    const calls = ctx.client.exchanges.filter(
      (e) => e.principal.tenant === tenant && e.path === CHAT && e.llm !== undefined,
    );
    const received = calls.flatMap((e) => local.llm.requests.slice(e.llm?.[0], e.llm?.[1]));
    const chats = received.filter((r) => r.path.endsWith('/chat/completions'));
    check.expect(chats.length > 0, 'the LLM received no chat request');
    const text = JSON.stringify(chats.map((r) => ({ headers: r.headers, body: r.body })));
    check.sees(text, tenant.canaries, 'context sent to the LLM');
    check.lacks(
      text,
      [...ctx.world.foreignTo(tenant), ...ctx.world.tokens],
      'context sent to the LLM',
    );
    const users = chats.map((r) => JSON.stringify((r.body as { user?: unknown }).user ?? ''));
    const subjects = [tenant.user.label, `conformance-${tenant.slot}-user`];
    check.expect(
      users.every((u) => !subjects.some((s) => u.includes(s))),
      'the LLM request names the caller instead of a pseudonym',
    );
    check.note(`${chats.length} chat requests: own canaries, no other tenant's, no token`);
  });
}

/** The model to ask for, or why the chat cases cannot run (they then fail with the reason). */
async function chatSetup(ctx: RunContext): Promise<ChatSetup | string> {
  if (!ctx.hasChat) return 'chat route missing';
  const tenant = ctx.world.tenants[0] as Tenant;
  const models = await ctx.client.call(tenant.user, 'GET', '/v1/models');
  const model = dataOf<{ id: string }>(models)[0]?.id ?? 'default';
  return { model, echoingLlm: ctx.local !== undefined };
}

/** Chat: prompt injection, identical prompts and the cache, and what the LLM received. */
export async function chatCases(ctx: RunContext): Promise<void> {
  const setup = await chatSetup(ctx);
  if (typeof setup === 'string') {
    for (const tenant of ctx.world.tenants) {
      ctx.suite.fail('chat: prompt injection', againstAll(tenant), setup);
      ctx.suite.fail('chat: prompt injection, streamed', againstAll(tenant), setup);
    }
    for (const { boundary } of crossings(ctx.world)) {
      ctx.suite.fail('chat: identical prompt, cache', boundary, setup);
    }
    for (const tenant of ctx.world.tenants) {
      if (ctx.local === undefined) await llmReceived(ctx, tenant);
      else ctx.suite.fail('chat: what the LLM received', againstAll(tenant), setup);
    }
    return;
  }
  for (const tenant of ctx.world.tenants) await promptInjection(ctx, tenant, setup);
  for (const crossing of crossings(ctx.world)) await identicalPrompt(ctx, crossing, setup);
  for (const tenant of ctx.world.tenants) await llmReceived(ctx, tenant);
}

/** Whether the gateway has the chat route: an unknown route answers 404 `route_not_found`. */
export async function chatRouteExists(client: GatewayClient, nobody: Principal): Promise<boolean> {
  const probe = await client.call(nobody, 'POST', CHAT, { body: {} });
  return !(probe.status === 404 && errorCode(probe) === 'route_not_found');
}
