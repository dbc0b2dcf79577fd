import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { api } from './support/api.js';
import { createCanaryTenant } from './support/canary-tenant.js';
import { chainEvents } from './support/audit.js';
import { UsageLedger } from '@isogate/isolation';
import { freshId, testPool } from './support/db.js';
import { testConfig } from './support/env.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';
import { startOpenAiServer, type OpenAiServer } from './support/openai-server.js';

const DIMENSIONS = 16;
type Site = 'cheap' | 'east' | 'west';
const SITES: Site[] = ['cheap', 'east', 'west'];

/** A catalog of three sites, each serving chat and embeddings; only east and west have a BAA. */
function catalog(urls: Record<Site, string>): string {
  const attributes: Record<Site, object> = {
    cheap: { region: 'anywhere', price: { input_per_mtok: 0.1, output_per_mtok: 0.4 } },
    east: {
      region: 'us-east',
      baa: true,
      zero_retention: true,
      certifications: ['hipaa'],
      price: { input_per_mtok: 5, output_per_mtok: 15 },
    },
    west: { region: 'us-west', baa: true, zero_retention: true, certifications: ['hipaa'] },
  };
  const upstreams = SITES.flatMap((site) => [
    {
      id: `${site}-chat`,
      kind: 'openai-compatible',
      purpose: 'chat',
      base_url: urls[site],
      model: 'test-chat',
      context_tokens: 8192,
      timeout_ms: 2_000,
      ...attributes[site],
    },
    {
      id: `${site}-embed`,
      kind: 'openai-compatible',
      purpose: 'embeddings',
      base_url: urls[site],
      model: 'test-embed',
      dimensions: DIMENSIONS,
      ...attributes[site],
    },
  ]);
  const models = [
    { name: 'chat', purpose: 'chat', upstreams: ['cheap-chat', 'east-chat', 'west-chat'] },
    { name: 'cheap-only', purpose: 'chat', upstreams: ['cheap-chat'] },
    {
      name: 'embed',
      purpose: 'embeddings',
      upstreams: ['cheap-embed', 'east-embed', 'west-embed'],
    },
  ];
  return JSON.stringify({ upstreams, models });
}

describe('model routing by each tenant’s compliance policy', () => {
  let idp: TestIdentityProvider;
  let sites: Record<Site, OpenAiServer>;
  let gateway: RunningGateway;
  let operator: string;
  let dir: string;
  const owner = testPool('owner');
  const msp = freshId('msp');
  const tenants: string[] = [];

  const call = (token: string, method: string, path: string, body?: unknown) =>
    api(gateway.url, token, method, path, body);
  /** Whether any request `site` received carries `text`. */
  const saw = (site: Site, text: string) => JSON.stringify(sites[site].requests).includes(text);
  const chatCalls = (site: Site) =>
    sites[site].requests.filter((r) => r.path === '/v1/chat/completions').length;

  const newTenant = async (policy: object) => {
    const tenant = await createCanaryTenant(gateway.url, idp, operator, {
      prefix: 'route',
      tenant: { pii: 'off', policy },
    });
    tenants.push(tenant.id);
    return tenant;
  };

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    const started = await Promise.all(
      SITES.map(() => startOpenAiServer({ dimensions: DIMENSIONS, models: ['test-chat'] })),
    );
    sites = { cheap: started[0], east: started[1], west: started[2] } as Record<Site, OpenAiServer>;
    dir = mkdtempSync(join(tmpdir(), 'isogate-models-'));
    const file = join(dir, 'models.json');
    writeFileSync(
      file,
      catalog({ cheap: sites.cheap.url, east: sites.east.url, west: sites.west.url }),
    );
    gateway = await startGateway(
      testConfig({ ...idp.env, MODELS_FILE: file, EMBEDDINGS_DIMENSIONS: String(DIMENSIONS) }),
    );
    operator = await idp.token({ msp_id: msp, roles: ['operator'] });
  });
  afterAll(async () => {
    for (const id of tenants) await call(operator, 'DELETE', `/v1/tenants/${id}`);
    await owner.end();
    await gateway.close();
    for (const site of SITES) await sites[site].close();
    await idp.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a PHI tenant’s texts and prompts only to BAA upstreams, a public tenant’s to the first', async () => {
    const phi = await newTenant({ data_class: 'phi' });
    const open = await newTenant({});
    // Ingestion: the PHI tenant's chunks were embedded by east only; the public one's by cheap.
    expect([saw('east', phi.canary), saw('cheap', phi.canary), saw('west', phi.canary)]).toEqual([
      true,
      false,
      false,
    ]);
    expect(saw('cheap', open.canary)).toBe(true);
    const [ingested] = await chainEvents(owner, { tenantId: phi.id }, phi.documentRequestId);
    expect(ingested?.details).toMatchObject({ embeddings_route: { upstream: 'east-embed' } });

    const ask = { model: 'chat', messages: [{ role: 'user', content: 'What about valves?' }] };
    const answered = await call(phi.user, 'POST', '/v1/chat/completions', ask);
    expect(answered.status).toBe(200);
    expect(saw('cheap', phi.canary)).toBe(false);
    const [event] = await chainEvents(
      owner,
      { tenantId: phi.id },
      answered.headers.get('x-request-id') as string,
    );
    expect(event?.details).toMatchObject({
      route: {
        upstream: 'east-chat',
        upstream_model: 'test-chat',
        policy_version: expect.any(String),
        attempts: [{ upstream: 'east-chat', outcome: 'ok' }],
      },
    });
    // Control: the public tenant's request goes to the first upstream, the cheap one.
    const before = chatCalls('cheap');
    expect((await call(open.user, 'POST', '/v1/chat/completions', ask)).status).toBe(200);
    expect(chatCalls('cheap')).toBe(before + 1);

    // Streamed as well: the end event names the upstream that answered.
    const stream = await new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: phi.user,
      maxRetries: 0,
    }).chat.completions
      .create({ ...ask, messages: [{ role: 'user', content: 'Streamed?' }], stream: true })
      .withResponse();
    for await (const _chunk of stream.data) void _chunk;
    const rows = await chainEvents(
      owner,
      { tenantId: phi.id },
      stream.response.headers.get('x-request-id') as string,
    );
    expect(rows.map((r) => r.action)).toEqual(['chat.started', 'chat.completed']);
    expect(rows[1]?.details).toMatchObject({ route: { upstream: 'east-chat' } });
    expect(saw('cheap', phi.canary)).toBe(false);
  });

  it('falls back to the next compliant upstream only, and answers 503 when none is left', async () => {
    const phi = await newTenant({ data_class: 'phi' });
    const ask = { model: 'chat', messages: [{ role: 'user', content: 'Fallback?' }] };
    const cheapBefore = sites.cheap.requests.length;
    // East fails twice: the query's embedding and then the chat call each fall back to west.
    sites.east.failNext(2, 503);
    const fellBack = await call(phi.user, 'POST', '/v1/chat/completions', ask);
    expect(fellBack.status).toBe(200);
    const [event] = await chainEvents(
      owner,
      { tenantId: phi.id },
      fellBack.headers.get('x-request-id') as string,
    );
    expect(event?.details).toMatchObject({
      route: {
        upstream: 'west-chat',
        attempts: [
          { upstream: 'east-chat', outcome: 'server_error' },
          { upstream: 'west-chat', outcome: 'ok' },
        ],
      },
    });
    // Both compliant upstreams down: 503, and the non-compliant one never saw the tenant.
    sites.east.failNext(4, 503);
    sites.west.failNext(4, 500);
    const refused = await call(phi.user, 'POST', '/v1/chat/completions', {
      ...ask,
      messages: [{ role: 'user', content: 'None left?' }],
    });
    sites.east.failNext(0);
    sites.west.failNext(0);
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: { code: 'no_compliant_upstream' } });
    expect(sites.cheap.requests.length).toBe(cheapBefore);
    expect(saw('cheap', phi.canary)).toBe(false);
  });

  it('loses no non-streamed request when the upstream in use dies under load', async () => {
    const dying = await startOpenAiServer({ dimensions: DIMENSIONS, models: ['test-chat'] });
    const file = join(dir, 'failover.json');
    writeFileSync(file, catalog({ cheap: sites.cheap.url, east: dying.url, west: sites.west.url }));
    const failover = await startGateway(
      testConfig({ ...idp.env, MODELS_FILE: file, EMBEDDINGS_DIMENSIONS: String(DIMENSIONS) }),
    );
    try {
      const phi = await newTenant({ data_class: 'phi' });
      const send = (i: number) =>
        api(failover.url, phi.user, 'POST', '/v1/chat/completions', {
          model: 'chat',
          messages: [{ role: 'user', content: `Question ${i} under load?` }],
        });
      // 120 requests, 8 at a time; the upstream in use dies after the 40th is sent.
      const statuses: number[] = [];
      const upstreams: unknown[] = [];
      const firstOutcomes: unknown[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < 120) {
            const i = next++;
            if (i === 40) await dying.close();
            const answer = await send(i);
            statuses.push(answer.status);
            const [event] = await chainEvents(
              owner,
              { tenantId: phi.id },
              answer.headers.get('x-request-id') as string,
            );
            const route = event?.details.route as
              { upstream?: string; attempts: { outcome: string }[] } | undefined;
            upstreams.push(route?.upstream);
            firstOutcomes.push(route?.attempts[0]?.outcome);
          }
        }),
      );
      expect(statuses.filter((status) => status !== 200)).toEqual([]);
      expect(upstreams).toContain('east-chat');
      expect(upstreams).toContain('west-chat');
      expect(upstreams.filter((u) => u !== 'east-chat' && u !== 'west-chat')).toEqual([]);
      // The dead upstream's breaker opened: later requests did not try it first any more.
      expect(firstOutcomes).toContain('connection_error');
      expect(firstOutcomes).toContain('breaker_open');
      expect(saw('cheap', phi.canary)).toBe(false);
    } finally {
      await failover.close();
      await dying.close().catch(() => undefined);
    }
  });

  it('lists only the models a tenant may use; another is not found, as an unknown one', async () => {
    const phi = await newTenant({ data_class: 'phi' });
    const open = await newTenant({});
    const listed = async (token: string) =>
      ((await call(token, 'GET', '/v1/models')).body.data as { id: string }[]).map((m) => m.id);
    expect(await listed(phi.user)).toEqual(['chat']);
    expect(await listed(open.user)).toEqual(['chat', 'cheap-only']);
    // The allow-list names chat models: a tenant limited to one still has its texts embedded.
    const narrow = await newTenant({ models: ['cheap-only'] });
    expect(await listed(narrow.user)).toEqual(['cheap-only']);
    expect(saw('cheap', narrow.canary)).toBe(true);
    const ask = (model: string) => ({ model, messages: [{ role: 'user', content: 'Hello?' }] });
    const cheapBefore = chatCalls('cheap');
    const disallowed = await call(phi.user, 'POST', '/v1/chat/completions', ask('cheap-only'));
    const unknown = await call(phi.user, 'POST', '/v1/chat/completions', ask('no-such-mod'));
    expect(disallowed.status).toBe(404);
    expect(unknown.status).toBe(404);
    const shape = (body: Record<string, unknown>) =>
      JSON.stringify(body).replace(/cheap-only|no-such-mod/u, '?');
    expect(shape(disallowed.body)).toBe(shape(unknown.body));
    expect(chatCalls('cheap')).toBe(cheapBefore);
    // Control: the public tenant may use it.
    expect((await call(open.user, 'POST', '/v1/chat/completions', ask('cheap-only'))).status).toBe(
      200,
    );
  });

  it('accounts each tenant’s usage per model and upstream, at the catalog’s prices', async () => {
    const phi = await newTenant({ data_class: 'phi' });
    const open = await newTenant({});
    const ask = { model: 'chat', messages: [{ role: 'user', content: 'What does it cost?' }] };
    expect((await call(phi.user, 'POST', '/v1/chat/completions', ask)).status).toBe(200);
    expect((await call(open.user, 'POST', '/v1/chat/completions', ask)).status).toBe(200);
    await gateway.app.get(UsageLedger).flush();
    const today = (await call(operator, 'GET', `/v1/tenants/${phi.id}/usage`)).body.data as {
      models: {
        model: string;
        upstream: string;
        tokens_in: number;
        tokens_out: number;
        cost_usd: number;
      }[];
    }[];
    const models = today.at(-1)?.models ?? [];
    const chat = models.find((m) => m.model === 'chat');
    expect(chat).toMatchObject({ upstream: 'east-chat', tokens_in: expect.any(Number) });
    expect(chat?.tokens_out).toBeGreaterThan(0);
    expect(chat?.cost_usd).toBeCloseTo(
      ((chat?.tokens_in ?? 0) * 5 + (chat?.tokens_out ?? 0) * 15) / 1e6,
      9,
    );
    const embed = models.find((m) => m.model === 'embed');
    expect(embed).toMatchObject({ upstream: 'east-embed', tokens_out: 0 });
    expect(embed?.tokens_in).toBeGreaterThan(0);
    // The tenant's admin reads the same figures; the other tenant's are its own (cheap ones).
    const admin = await idp.token({ tenant_id: phi.id, roles: ['admin'] });
    const own = await call(admin, 'GET', '/v1/usage');
    expect(own.body).toMatchObject({ tenant_id: phi.id, data: today });
    const otherAdmin = await idp.token({ tenant_id: open.id, roles: ['admin'] });
    const theirs = (await call(otherAdmin, 'GET', '/v1/usage')).body.data as typeof today;
    expect(
      theirs
        .at(-1)
        ?.models.map((m) => m.upstream)
        .sort(),
    ).toEqual(['cheap-chat', 'cheap-embed']);
    // A user (not an admin) may not read it.
    expect((await call(phi.user, 'GET', '/v1/usage')).status).toBe(403);
  });

  it('refuses to start on a bad catalog, naming the entry and the field', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        upstreams: [
          { id: 'x', kind: 'bedrock', purpose: 'chat', base_url: 'http://127.0.0.1:1/v1' },
        ],
        models: [],
      }),
    );
    expect(() => testConfig({ MODELS_FILE: bad })).toThrow(/upstreams\[0\] "x": kind/u);
  });
});
