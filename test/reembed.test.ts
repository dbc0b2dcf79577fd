import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QdrantClient } from '@qdrant/js-client-rest';
import type pg from 'pg';
import { collectionOf, QdrantAdmin, tenantNames } from '@isogate/isolation';
import { api } from './support/api.js';
import { chainEvents } from './support/audit.js';
import { freshId, testPool } from './support/db.js';
import { requireTestEnv, testConfig } from './support/env.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';
import { startOpenAiServer, type OpenAiServer } from './support/openai-server.js';

type Site = 'first' | 'second' | 'cheap';
const SITES: Site[] = ['first', 'second', 'cheap'];
/** Each site's embeddings model has vectors of its own length. */
const DIMENSIONS: Record<Site, number> = { first: 16, second: 24, cheap: 32 };

/** Three embeddings models, one per site; only `cheap` has no BAA. */
function catalog(urls: Record<Site, string>): string {
  const upstreams = SITES.map((site) => ({
    id: `${site}-embed`,
    kind: 'openai-compatible',
    purpose: 'embeddings',
    base_url: urls[site],
    model: `${site}-model`,
    dimensions: DIMENSIONS[site],
    timeout_ms: 2_000,
    region: 'us-east',
    ...(site === 'cheap' ? {} : { baa: true, zero_retention: true }),
  }));
  const models = SITES.map((site) => ({
    name: `embed-${site}`,
    purpose: 'embeddings',
    upstreams: [`${site}-embed`],
  }));
  return JSON.stringify({ upstreams, models });
}

/** Polls `read` until `done` holds (at most 30 s); answers the last value read. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('re-embedding a tenant’s documents with another embeddings model', () => {
  let idp: TestIdentityProvider;
  let sites: Record<Site, OpenAiServer>;
  let gateway: RunningGateway;
  let operator: string;
  let dir: string;
  let qdrant: QdrantClient;
  const owner = testPool('owner');
  const msp = freshId('msp');
  const tenants: string[] = [];

  const call = (token: string, method: string, path: string, body?: unknown) =>
    api(gateway.url, token, method, path, body);
  const embeddingsAt = (site: Site) =>
    sites[site].requests.filter((r) => r.path === '/v1/embeddings');
  const pointsOf = async (collection: string) => {
    const { points } = await qdrant.scroll(collection, { limit: 1_000, with_payload: true });
    return points.map((p) => String(p.payload?.document_id)).sort();
  };
  const collections = async (tenantId: string) =>
    (await qdrant.getCollections()).collections
      .map((c) => c.name)
      .filter((name) => name.startsWith(tenantNames(tenantId).collection))
      .sort();

  /** A tenant of the first model holding `documents`, with its admin token. */
  const newTenant = async (documents: string[], fields: object = {}) => {
    const id = freshId('reembed');
    const created = await call(operator, 'POST', '/v1/tenants', {
      id,
      name: id,
      pii: 'off',
      policy: { data_class: 'phi' },
      ...fields,
    });
    expect(created.status).toBe(201);
    tenants.push(id);
    const admin = await idp.token({ tenant_id: id, roles: ['admin', 'user'] });
    for (const doc of documents) {
      const stored = await call(admin, 'POST', '/v1/documents', {
        id: doc,
        title: `Protocol ${doc}`,
        text: `The ${doc} protocol covers valve replacement for elderly patients.`,
      });
      expect(stored.status).toBe(201);
    }
    return { id, admin };
  };
  const retrieve = (token: string) =>
    call(token, 'POST', '/v1/retrieve', { query: 'valve replacement', top_k: 10 });

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    const started = await Promise.all(
      SITES.map((site) => startOpenAiServer({ dimensions: DIMENSIONS[site] })),
    );
    sites = { first: started[0], second: started[1], cheap: started[2] } as Record<
      Site,
      OpenAiServer
    >;
    dir = mkdtempSync(join(tmpdir(), 'isogate-reembed-'));
    const file = join(dir, 'models.json');
    writeFileSync(
      file,
      catalog({ first: sites.first.url, second: sites.second.url, cheap: sites.cheap.url }),
    );
    gateway = await startGateway(testConfig({ ...idp.env, MODELS_FILE: file }));
    operator = await idp.token({ msp_id: msp, roles: ['operator'] });
    qdrant = new QdrantAdmin({
      url: requireTestEnv('QDRANT_URL'),
      apiKey: requireTestEnv('QDRANT_API_KEY'),
    }).client;
  });
  afterAll(async () => {
    for (const id of tenants) await call(operator, 'DELETE', `/v1/tenants/${id}`);
    await owner.end();
    await gateway.close();
    for (const site of SITES) await sites[site].close();
    await idp.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a change of model for a tenant with documents unless a re-embed is asked for', async () => {
    const { id, admin } = await newTenant(['one']);
    const refused = await call(operator, 'PATCH', `/v1/tenants/${id}`, {
      embeddings_model: 'embed-second',
      name: 'renamed',
    });
    expect(refused.status).toBe(409);
    expect((refused.body as { error: { code: string } }).error.code).toBe('reembed_required');
    // Nothing changed: not the name sent with it, not the model, and no run was started.
    const shown = (await call(operator, 'GET', `/v1/tenants/${id}`)).body as {
      name: string;
      embeddings_model: string;
    };
    expect(shown).toMatchObject({ name: id, embeddings_model: 'embed-first' });
    expect((await call(operator, 'GET', `/v1/tenants/${id}/reembed`)).status).toBe(404);
    expect(await collections(id)).toEqual([collectionOf(id, 0)]);
    expect((await retrieve(admin)).status).toBe(200);
  });

  it('builds the new vectors beside the old ones, then switches, with writes and deletions meanwhile', async () => {
    const { id, admin } = await newTenant(['alpha', 'beta', 'gamma']);
    // The run stops at `gamma`, whose lock the test holds: retrieval goes on meanwhile.
    const blocker: pg.PoolClient = await owner.connect();
    await blocker.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [`${id}:gamma`]);
    const secondBefore = embeddingsAt('second').length;
    const patched = await call(operator, 'PATCH', `/v1/tenants/${id}`, {
      embeddings_model: 'embed-second',
      reembed: true,
    });
    expect(patched.status).toBe(200);
    const body = patched.body as { embeddings_model: string; reembed: object };
    expect(body.embeddings_model).toBe('embed-first');
    expect(body.reembed).toMatchObject({
      status: 'running',
      from_model: 'embed-first',
      to_model: 'embed-second',
      documents_total: 3,
    });
    try {
      await until(
        async () => embeddingsAt('second').length,
        (n) => n >= secondBefore + 2,
      );
      // The old vectors still answer, and queries are still embedded by the old model.
      const firstBefore = embeddingsAt('first').length;
      const during = await retrieve(admin);
      expect(during.status).toBe(200);
      const found = during.body as { results: { document_id: string }[] };
      expect(new Set(found.results.map((r) => r.document_id))).toEqual(
        new Set(['alpha', 'beta', 'gamma']),
      );
      expect(embeddingsAt('first').length).toBe(firstBefore + 1);
      const progress = (await call(operator, 'GET', `/v1/tenants/${id}/reembed`)).body as {
        status: string;
        documents_done: number;
      };
      expect(progress.status).toBe('running');
      expect(await collections(id)).toEqual([collectionOf(id, 0), collectionOf(id, 1)].sort());
      // A deletion of a document already re-embedded, and a new document, while it runs.
      expect((await call(admin, 'DELETE', '/v1/documents/alpha')).status).toBe(200);
      const added = await call(admin, 'POST', '/v1/documents', {
        id: 'delta',
        title: 'Protocol delta',
        text: 'The delta protocol covers valve replacement too.',
      });
      expect(added.status).toBe(201);
    } finally {
      await blocker.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`${id}:gamma`]);
      blocker.release();
    }
    const finished = (await until(
      async () => (await call(operator, 'GET', `/v1/tenants/${id}/reembed`)).body,
      (r) => (r as { status: string }).status !== 'running',
    )) as { status: string; documents_done: number };
    expect(finished).toMatchObject({ status: 'completed', documents_done: 3 });

    // The new generation holds exactly the visible documents, as vectors of the new length.
    const next = collectionOf(id, 1);
    expect(await pointsOf(next)).toEqual(['beta', 'delta', 'gamma']);
    const info = await qdrant.getCollection(next);
    expect(info.config.params.vectors).toMatchObject({ dense: { size: DIMENSIONS.second } });
    const shown = (await call(operator, 'GET', `/v1/tenants/${id}`)).body as {
      embeddings_model: string;
    };
    expect(shown.embeddings_model).toBe('embed-second');

    // Queries are now embedded by the new model and search the new vectors.
    const secondAt = embeddingsAt('second').length;
    const after = await until(
      async () => {
        const answer = await retrieve(admin);
        return {
          status: answer.status,
          ids: (answer.body as { results: { document_id: string }[] }).results.map(
            (r) => r.document_id,
          ),
        };
      },
      () => embeddingsAt('second').length > secondAt,
    );
    expect(after.status).toBe(200);
    expect(new Set(after.ids)).toEqual(new Set(['beta', 'delta', 'gamma']));
    // A later write lands in the new generation only.
    expect(
      (
        await call(admin, 'POST', '/v1/documents', {
          id: 'epsilon',
          title: 'Protocol epsilon',
          text: 'Epsilon text on valves.',
        })
      ).status,
    ).toBe(201);
    expect(await pointsOf(next)).toContain('epsilon');

    // The old generation goes once no replica can still be reading it.
    expect(
      await until(
        () => collections(id),
        (names) => names.length === 1,
      ),
    ).toEqual([next]);

    // Audited: the request that asked for it, and the run's end, on the MSP's chain.
    const events = await chainEvents(owner, { mspId: msp });
    const ofTenant = events.filter((e) => e.tenant_id === id);
    const completed = ofTenant.find((e) => e.action === 'tenant.reembed.completed');
    expect(completed?.details).toMatchObject({
      to_model: 'embed-second',
      embeddings_upstreams: ['second-embed'],
      policy_versions: [expect.any(String)],
    });
    expect(ofTenant.find((e) => e.action === 'PATCH /v1/tenants/:id')?.details).toMatchObject({
      reembed: { from_model: 'embed-first', to_model: 'embed-second', documents: 3 },
    });
  });

  it('keeps the tenant on its old vectors when the new model fails', async () => {
    const { id, admin } = await newTenant(['one', 'two']);
    sites.second.failNext(50, 400);
    const patched = await call(operator, 'PATCH', `/v1/tenants/${id}`, {
      embeddings_model: 'embed-second',
      reembed: true,
    });
    expect(patched.status).toBe(200);
    const finished = (await until(
      async () => (await call(operator, 'GET', `/v1/tenants/${id}/reembed`)).body,
      (r) => (r as { status: string }).status !== 'running',
    )) as { status: string; error: string };
    sites.second.failNext(0);
    expect(finished.status).toBe('failed');
    expect(finished.error).not.toMatch(/second|127\.0\.0\.1|http/);
    expect(
      await until(
        () => collections(id),
        (names) => names.length === 1,
      ),
    ).toEqual([collectionOf(id, 0)]);
    const shown = (await call(operator, 'GET', `/v1/tenants/${id}`)).body as {
      embeddings_model: string;
    };
    expect(shown.embeddings_model).toBe('embed-first');
    const answer = await retrieve(admin);
    expect(answer.status).toBe(200);
    expect((answer.body as { results: unknown[] }).results).toHaveLength(2);
    const events = await chainEvents(owner, { mspId: msp });
    expect(events.filter((e) => e.tenant_id === id).map((e) => e.action)).toContain(
      'tenant.reembed.failed',
    );
  });

  it('refuses a second run while one is alive, and takes over one whose process is gone', async () => {
    const { id } = await newTenant(['one']);
    const superuser = testPool('superuser');
    try {
      // A run another gateway process started (and still reports progress for).
      await superuser.query(
        `INSERT INTO reembeds (tenant_id, to_model, generation, status) VALUES ($1, 'embed-second', 1, 'running')`,
        [id],
      );
      const ask = { embeddings_model: 'embed-second', reembed: true };
      const busy = await call(operator, 'PATCH', `/v1/tenants/${id}`, ask);
      expect(busy.status).toBe(409);
      expect((busy.body as { error: { code: string } }).error.code).toBe('reembed_in_progress');
      // Its process died: silent for longer than a run ever is.
      await superuser.query(
        `UPDATE reembeds SET updated_at = now() - interval '1 hour' WHERE tenant_id = $1`,
        [id],
      );
      const taken = await call(operator, 'PATCH', `/v1/tenants/${id}`, ask);
      expect(taken.status).toBe(200);
      const done = (await until(
        async () => (await call(operator, 'GET', `/v1/tenants/${id}/reembed`)).body,
        (r) => (r as { status: string }).status !== 'running',
      )) as { status: string };
      expect(done.status).toBe('completed');
      // The abandoned run's number is not reused.
      expect(await collections(id)).toContain(collectionOf(id, 2));
    } finally {
      await superuser.end();
    }
  });

  it('offers only a model the tenant’s policy allows, and a tenant without documents switches at once', async () => {
    const { id } = await newTenant([]);
    // The cheap model has no BAA: a PHI tenant cannot be given it, whether created or changed.
    const refused = await call(operator, 'PATCH', `/v1/tenants/${id}`, {
      embeddings_model: 'embed-cheap',
    });
    expect(refused.status).toBe(400);
    const unknown = await call(operator, 'PATCH', `/v1/tenants/${id}`, {
      embeddings_model: 'embed-nowhere',
    });
    expect(unknown.status).toBe(400);
    const badCreate = await call(operator, 'POST', '/v1/tenants', {
      id: freshId('reembed'),
      name: 'x',
      policy: { data_class: 'phi' },
      embeddings_model: 'embed-cheap',
    });
    expect(badCreate.status).toBe(400);
    // Control: a tenant of no data class may have it.
    const open = await newTenant(['doc'], { policy: {}, embeddings_model: 'embed-cheap' });
    const info = await qdrant.getCollection(collectionOf(open.id, 0));
    expect(info.config.params.vectors).toMatchObject({ dense: { size: DIMENSIONS.cheap } });

    // No documents: no re-embed needs to be asked for.
    const switched = await call(operator, 'PATCH', `/v1/tenants/${id}`, {
      embeddings_model: 'embed-second',
    });
    expect(switched.status).toBe(200);
    const done = (await until(
      async () => (await call(operator, 'GET', `/v1/tenants/${id}/reembed`)).body,
      (r) => (r as { status: string }).status !== 'running',
    )) as { status: string };
    expect(done.status).toBe('completed');
    // Deleting the tenant removes every generation of its vectors.
    expect((await call(operator, 'DELETE', `/v1/tenants/${id}`)).status).toBe(200);
    expect(await collections(id)).toEqual([]);
  });
});
