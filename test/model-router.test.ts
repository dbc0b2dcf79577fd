import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  loadCatalog,
  ModelRouter,
  type ChatModelDelta,
  type ModelCatalog,
  type ModelRouterOptions,
  type RoutedChatRequest,
  type TenantPolicy,
} from '@isogate/models';
import { randomUUID } from 'node:crypto';
import { fakeEmbedding, startOpenAiServer, type OpenAiServer } from './support/openai-server.js';

/**
 * The router against three OpenAI-compatible servers on loopback with different compliance
 * attributes: `baa-east` and `baa-west` (BAA, zero retention) and `cheap` (nothing). A PHI
 * tenant's canary may reach the BAA servers only, whatever fails; `cheap` is the control
 * that a public tenant reaches first.
 */
describe('ModelRouter', () => {
  const names = ['baa-east', 'baa-west', 'cheap'] as const;
  type Name = (typeof names)[number];
  const servers = {} as Record<Name, OpenAiServer>;
  let catalog: ModelCatalog;
  const phi: TenantPolicy = { data_class: 'phi' };
  const open: TenantPolicy = { data_class: 'public' };

  beforeAll(async () => {
    for (const name of names) servers[name] = await startOpenAiServer({ dimensions: 8 });
    const attributes: Record<Name, object> = {
      'baa-east': { region: 'us-east', baa: true, zero_retention: true },
      'baa-west': { region: 'us-west', baa: true, zero_retention: true },
      cheap: { region: 'us-east' },
    };
    const upstreams = names.flatMap((name) => [
      {
        id: name,
        kind: 'openai-compatible',
        purpose: 'chat',
        base_url: servers[name].url,
        model: `${name}-chat`,
        context_tokens: 8192,
        timeout_ms: 1_000,
        ...attributes[name],
      },
      {
        id: `${name}-embed`,
        kind: 'openai-compatible',
        purpose: 'embeddings',
        base_url: servers[name].url,
        model: 'test-embed',
        dimensions: 8,
        ...attributes[name],
      },
    ]);
    catalog = loadCatalog(
      JSON.stringify({
        upstreams,
        models: [
          { name: 'general', purpose: 'chat', upstreams: ['cheap', 'baa-east', 'baa-west'] },
          {
            name: 'embed',
            purpose: 'embeddings',
            upstreams: ['cheap-embed', 'baa-east-embed', 'baa-west-embed'],
          },
        ],
      }),
      {},
    );
  });

  afterAll(async () => {
    await Promise.all(names.map((name) => servers[name].close()));
  });

  beforeEach(() => {
    for (const name of names) {
      servers[name].requests.length = 0;
      servers[name].failNext(0);
      servers[name].delayChat(0);
      servers[name].streamWith();
    }
  });

  const router = (options: ModelRouterOptions = {}) => new ModelRouter(catalog, options);
  const newCanary = () => `CANARY-${randomUUID()}`;
  const ask = (canary: string): RoutedChatRequest => ({
    messages: [{ role: 'user', content: `the patient ${canary} has a question` }],
    maxTokens: 50,
    user: 'pseudonymous-user',
  });
  const seen = (name: Name, canary: string) =>
    servers[name].requests.filter((request) => JSON.stringify(request.body).includes(canary))
      .length;
  const collect = async (deltas: AsyncIterable<ChatModelDelta>) => {
    let text = '';
    for await (const delta of deltas) text += delta.text;
    return text;
  };

  describe('a PHI policy', () => {
    it('reaches only the first BAA upstream when all is well', async () => {
      const canary = newCanary();
      const { answer, route } = await router().complete('general', phi, ask(canary));

      expect(answer.text).toContain(canary);
      expect(route).toMatchObject({
        upstream: 'baa-east',
        upstream_model: 'baa-east-chat',
        attempts: [{ upstream: 'baa-east', outcome: 'ok' }],
      });
      expect(route.policy_version).toMatch(/^[0-9a-f]{16}$/);
      expect([seen('baa-east', canary), seen('baa-west', canary), seen('cheap', canary)]).toEqual([
        1, 0, 0,
      ]);
      expect(servers['baa-east'].requests[0]?.body).toMatchObject({ model: 'baa-east-chat' });
    });

    it('falls back to the second BAA upstream, never to cheap, when the first fails', async () => {
      const canary = newCanary();
      servers['baa-east'].failNext(1, 503);

      const { route } = await router().complete('general', phi, ask(canary));

      expect(route.upstream).toBe('baa-west');
      expect(route.attempts).toEqual([
        { upstream: 'baa-east', outcome: 'server_error' },
        { upstream: 'baa-west', outcome: 'ok' },
      ]);
      expect([seen('baa-east', canary), seen('baa-west', canary), seen('cheap', canary)]).toEqual([
        1, 1, 0,
      ]);
    });

    it('falls back on a timeout and on a 429 too', async () => {
      servers['baa-east'].delayChat(3_000);
      const slow = await router().complete('general', phi, ask(newCanary()));
      expect(slow.route.attempts.map((attempt) => attempt.outcome)).toEqual(['timeout', 'ok']);

      servers['baa-east'].delayChat(0);
      servers['baa-east'].failNext(1, 429);
      const limited = await router().complete('general', phi, ask(newCanary()));
      expect(limited.route.attempts.map((attempt) => attempt.outcome)).toEqual([
        'rate_limited',
        'ok',
      ]);
    });

    it('answers no_compliant_upstream when both BAA upstreams are down; cheap sees nothing', async () => {
      const canary = newCanary();
      servers['baa-east'].failNext(10, 503);
      servers['baa-west'].failNext(10, 502);

      await expect(router().complete('general', phi, ask(canary))).rejects.toMatchObject({
        code: 'no_compliant_upstream',
        reason: 'exhausted',
        attempts: [
          { upstream: 'baa-east', outcome: 'server_error' },
          { upstream: 'baa-west', outcome: 'server_error' },
        ],
      });
      await expect(router().stream('general', phi, ask(canary))).rejects.toMatchObject({
        code: 'no_compliant_upstream',
      });
      await expect(router().embed('embed', phi, [canary])).rejects.toMatchObject({
        code: 'no_compliant_upstream',
      });
      expect(seen('baa-east', canary)).toBeGreaterThan(0);
      expect(servers.cheap.requests).toEqual([]);
    });

    it('answers a 400 as it is, without falling back', async () => {
      const canary = newCanary();
      servers['baa-east'].failNext(1, 400);

      await expect(router().complete('general', phi, ask(canary))).rejects.toMatchObject({
        code: 'upstream_error',
      });
      expect([seen('baa-east', canary), seen('baa-west', canary), seen('cheap', canary)]).toEqual([
        1, 0, 0,
      ]);
    });

    it('stops at the retry budget', async () => {
      const canary = newCanary();
      servers['baa-east'].failNext(1, 503);

      await expect(
        router({ maxAttempts: 1 }).complete('general', phi, ask(canary)),
      ).rejects.toMatchObject({ code: 'no_compliant_upstream', reason: 'exhausted' });
      expect(seen('baa-west', canary)).toBe(0);
    });

    it('streams from a BAA upstream, falling back before the first delta only', async () => {
      const canary = newCanary();
      const normal = await router().stream('general', phi, ask(canary));
      expect(normal.route.upstream).toBe('baa-east');
      expect(await collect(normal.deltas)).toContain(canary);

      // The connection dies after the role event, before any text: nothing was forwarded.
      servers['baa-east'].streamWith({ dieAfter: 1 });
      const fallen = await router().stream('general', phi, ask(canary));
      expect(fallen.route.attempts).toEqual([
        { upstream: 'baa-east', outcome: 'connection_error' },
        { upstream: 'baa-west', outcome: 'ok' },
      ]);
      expect(await collect(fallen.deltas)).toContain(canary);

      // After text has arrived a failure is the caller's, as ChatModel.stream throws it.
      servers['baa-east'].streamWith({ dieAfter: 3 });
      servers['baa-west'].requests.length = 0;
      const cut = await router().stream('general', phi, ask(canary));
      expect(cut.route.upstream).toBe('baa-east');
      await expect(collect(cut.deltas)).rejects.toMatchObject({ code: 'upstream_error' });
      expect(servers['baa-west'].requests).toEqual([]);
      expect(seen('cheap', canary)).toBe(0);
    });

    it('embeds on BAA upstreams only, falling back the same way', async () => {
      const canary = newCanary();
      servers['baa-east'].failNext(1, 503);

      const { vectors, route } = await router().embed('embed', phi, [canary, 'second']);

      expect(vectors).toEqual([fakeEmbedding(canary, 8), fakeEmbedding('second', 8)]);
      expect(route.attempts).toEqual([
        { upstream: 'baa-east-embed', outcome: 'server_error' },
        { upstream: 'baa-west-embed', outcome: 'ok' },
      ]);
      expect(seen('cheap', canary)).toBe(0);
    });
  });

  it('sends a public policy to the first upstream of its logical model', async () => {
    const canary = newCanary();
    const { route } = await router().complete('general', open, ask(canary));
    const embedded = await router().embed('embed', open, [canary]);

    expect(route.upstream).toBe('cheap');
    expect(embedded.route.upstream).toBe('cheap-embed');
    expect([seen('baa-east', canary), seen('baa-west', canary), seen('cheap', canary)]).toEqual([
      0, 0, 2,
    ]);
  });

  it('refuses a model outside the allow-list and a model of the other purpose', async () => {
    await expect(
      router().complete('general', { models: ['embed'] }, ask(newCanary())),
    ).rejects.toMatchObject({ code: 'model_not_found' });
    await expect(router().complete('embed', {}, ask(newCanary()))).rejects.toMatchObject({
      code: 'model_not_found',
    });
    await expect(
      router().complete('general', { data_class: 'phi', allowed_regions: ['eu-west'] }, ask('x')),
    ).rejects.toMatchObject({ code: 'no_compliant_upstream', reason: 'no_compliant' });
    expect(names.map((name) => servers[name].requests.length)).toEqual([0, 0, 0]);
  });

  it('opens the breaker of a dead upstream and closes it once a probe succeeds', async () => {
    const routing = router({ breaker: { failures: 2, cooldownMs: 300 } });
    servers['baa-east'].failNext(1_000, 503);
    const outcomes = async () =>
      (await routing.complete('general', phi, ask(newCanary()))).route.attempts.map(
        (attempt) => `${attempt.upstream}:${attempt.outcome}`,
      );

    expect(await outcomes()).toEqual(['baa-east:server_error', 'baa-west:ok']);
    expect(await outcomes()).toEqual(['baa-east:server_error', 'baa-west:ok']);
    expect(routing.breakerState('baa-east')).toBe('open');
    const calledWhileOpen = servers['baa-east'].requests.length;
    expect(await outcomes()).toEqual(['baa-east:breaker_open', 'baa-west:ok']);
    expect(servers['baa-east'].requests.length).toBe(calledWhileOpen);

    servers['baa-east'].failNext(0);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await outcomes()).toEqual(['baa-east:ok']);
    expect(routing.breakerState('baa-east')).toBe('closed');
  });

  it('skips an upstream whose rate limit is used up, without calling it, until it refills', async () => {
    const baa = ['baa-east', 'baa-west'] as const;
    const limited = loadCatalog(
      JSON.stringify({
        upstreams: baa.map((name) => ({
          id: name,
          kind: 'openai-compatible',
          purpose: 'chat',
          base_url: servers[name].url,
          model: `${name}-chat`,
          context_tokens: 8192,
          baa: true,
          zero_retention: true,
          rate_limit: { requests_per_minute: 1 },
        })),
        models: [{ name: 'limited', purpose: 'chat', upstreams: [...baa] }],
      }),
      {},
    );
    let nowMs = 0;
    const routing = new ModelRouter(limited, { now: () => nowMs });
    const canaries = [newCanary(), newCanary(), newCanary(), newCanary()] as const;
    const seenBy = (canary: string) => baa.map((name) => seen(name, canary));

    expect((await routing.complete('limited', phi, ask(canaries[0]))).route.upstream).toBe(
      'baa-east',
    );
    const fallen = await routing.complete('limited', phi, ask(canaries[1]));
    expect(fallen.route.attempts).toEqual([
      { upstream: 'baa-east', outcome: 'limit_reached' },
      { upstream: 'baa-west', outcome: 'ok' },
    ]);
    await expect(routing.stream('limited', phi, ask(canaries[2]))).rejects.toMatchObject({
      code: 'no_compliant_upstream',
      attempts: [
        { upstream: 'baa-east', outcome: 'limit_reached' },
        { upstream: 'baa-west', outcome: 'limit_reached' },
      ],
    });
    nowMs += 60_000;
    expect((await routing.complete('limited', phi, ask(canaries[3]))).route.upstream).toBe(
      'baa-east',
    );
    expect(canaries.map(seenBy)).toEqual([
      [1, 0],
      [0, 1],
      [0, 0],
      [1, 0],
    ]);
  });

  it('counts each batch of an embeddings call against the rate limit', async () => {
    const limited = loadCatalog(
      JSON.stringify({
        upstreams: [
          {
            id: 'embed-limited',
            kind: 'openai-compatible',
            purpose: 'embeddings',
            base_url: servers.cheap.url,
            model: 'test-embed',
            dimensions: 8,
            rate_limit: { requests_per_minute: 2 },
          },
        ],
        models: [{ name: 'embed-limited', purpose: 'embeddings', upstreams: ['embed-limited'] }],
      }),
      {},
    );
    const routing = new ModelRouter(limited, { now: () => 0 });
    // 65 texts are two requests of at most 64: the minute's two.
    const texts = Array.from({ length: 65 }, (_, i) => `text ${i}`);
    expect((await routing.embed('embed-limited', open, texts)).vectors).toHaveLength(65);
    expect(servers.cheap.requests).toHaveLength(2);

    await expect(routing.embed('embed-limited', open, ['one more'])).rejects.toMatchObject({
      code: 'no_compliant_upstream',
      attempts: [{ upstream: 'embed-limited', outcome: 'limit_reached' }],
    });
    expect(servers.cheap.requests).toHaveLength(2);
  });

  it('calls an Azure upstream by its deployment, with the api-version and api-key', async () => {
    const azure = loadCatalog(
      JSON.stringify({
        upstreams: [
          {
            id: 'azure',
            kind: 'azure-openai',
            purpose: 'chat',
            base_url: servers.cheap.azureUrl,
            api_key_env: 'AZURE_TEST_KEY',
            model: 'gpt-4o-mini',
            deployment: 'prod-mini',
            api_version: '2024-10-21',
            context_tokens: 8192,
          },
        ],
        models: [{ name: 'azure-chat', purpose: 'chat', upstreams: ['azure'] }],
      }),
      { AZURE_TEST_KEY: 'azure-test-key' },
    );
    const canary = newCanary();
    const { answer, route } = await new ModelRouter(azure).complete('azure-chat', {}, ask(canary));
    expect(answer.text).toContain(canary);
    expect(route.upstream).toBe('azure');
    const [request] = servers.cheap.requests;
    expect(request).toMatchObject({
      path: '/openai/deployments/prod-mini/chat/completions',
      deployment: 'prod-mini',
      apiVersion: '2024-10-21',
      apiKey: 'azure-test-key',
    });
    expect(request?.headers.authorization).toBeUndefined();
  });
});
