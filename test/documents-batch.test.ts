import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { tenantNames } from '@isogate/isolation';
import { api } from './support/api.js';
import { freshId, testPool } from './support/db.js';
import { testConfig } from './support/env.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';
import { storeKit, type StoreKit } from './support/stores.js';

interface BatchResult {
  index: number;
  status: number;
  id?: string;
  chunks?: number;
  error?: { code: string; param?: string };
}

describe('batch ingestion (POST /v1/documents/batch)', () => {
  let idp: TestIdentityProvider;
  let gateway: RunningGateway;
  let kit: StoreKit;
  let operator: string;
  const msp = freshId('msp');
  const tenants: string[] = [];
  const owner = testPool('superuser');

  const call = (token: string, method: string, path: string, body?: unknown) =>
    api(gateway.url, token, method, path, body);
  const newTenant = async (extra: Record<string, unknown> = {}) => {
    const id = freshId('batch');
    expect((await call(operator, 'POST', '/v1/tenants', { id, name: id, ...extra })).status).toBe(
      201,
    );
    tenants.push(id);
    const token = (roles: string[]) => idp.token({ tenant_id: id, roles });
    return { id, admin: await token(['admin']), user: await token(['user']) };
  };
  const documentCount = async (tenantId: string) =>
    Number(
      (
        await owner.query<{ n: string }>(
          'SELECT count(*) AS n FROM documents WHERE tenant_id = $1',
          [tenantId],
        )
      ).rows[0]?.n,
    );
  /** The texts of the tenant's Qdrant points per document, as the store holds them. */
  const pointsPerDocument = async (tenantId: string) => {
    const { points } = await kit.qdrant.client.scroll(tenantNames(tenantId).collection, {
      limit: 1_000,
      with_payload: true,
    });
    const counts = new Map<string, number>();
    for (const point of points) {
      const id = String(point.payload?.document_id);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  };
  const topDocument = async (token: string, query: string) => {
    const answer = await call(token, 'POST', '/v1/retrieve', { query, top_k: 1 });
    expect(answer.status).toBe(200);
    return (answer.body as { results: { document_id: string; text: string }[] }).results[0];
  };

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    gateway = await startGateway(testConfig(idp.env));
    kit = storeKit();
    operator = await idp.token({ msp_id: msp, roles: ['operator'] });
  });
  afterAll(async () => {
    for (const id of tenants) await call(operator, 'DELETE', `/v1/tenants/${id}`);
    await owner.end();
    await kit.close();
    await gateway.close();
    await idp.close();
  });

  it('answers each item on its own: good ones are written, bad ones refused, nothing else', async () => {
    const t = await newTenant({ quotas: { max_documents: 3, max_document_bytes: 300 } });
    const answer = await call(t.admin, 'POST', '/v1/documents/batch', {
      documents: [
        { id: 'valve', title: 'Valves', text: 'Transcatheter aortic valve replacement.' },
        { id: 'blank', text: '   ' },
        { id: 'huge', text: 'x'.repeat(301) },
        { id: 'lungs', text: 'Spirometry measures forced expiratory volume.' },
        { id: 'valve', text: 'The same id twice in one batch.' },
        { id: 'kidney', text: 'Serum creatinine estimates glomerular filtration.' },
        { id: 'fourth', text: 'One more than the tenant may keep.' },
        'not an object',
      ],
    });
    expect(answer.status).toBe(200);
    const data = (answer.body as { data: BatchResult[] }).data;
    expect(data.map((r) => [r.index, r.status, r.error?.code ?? 'ok'])).toEqual([
      [0, 201, 'ok'],
      [1, 400, 'invalid_request'],
      [2, 413, 'document_too_large'],
      [3, 201, 'ok'],
      [4, 400, 'invalid_request'],
      [5, 201, 'ok'],
      [6, 409, 'document_limit_reached'],
      [7, 400, 'invalid_request'],
    ]);
    expect(data[0]).toMatchObject({ id: 'valve', chunks: 1 });
    expect(data[4]?.error?.param).toBe('id');
    expect(await documentCount(t.id)).toBe(3);
    expect([...(await pointsPerDocument(t.id)).keys()].sort()).toEqual([
      'kidney',
      'lungs',
      'valve',
    ]);
    expect((await topDocument(t.user, 'forced expiratory volume'))?.document_id).toBe('lungs');
    for (const refused of ['blank', 'huge', 'fourth']) {
      expect((await call(t.user, 'GET', `/v1/documents/${refused}`)).status).toBe(404);
    }

    // The request's audit event names what was written, and only that.
    const auditor = await idp.token({ tenant_id: t.id, roles: ['auditor'] });
    const events = await call(auditor, 'GET', '/v1/audit/events?limit=100');
    const event = (
      events.body as { data: { request_id: string; details: Record<string, unknown> }[] }
    ).data.find((e) => e.request_id === answer.headers.get('x-request-id'));
    expect(event?.details.documents).toEqual({
      items: 8,
      written: 3,
      ids: ['valve', 'lungs', 'kidney'],
    });
    expect((await call(auditor, 'GET', '/v1/audit/verify')).body).toMatchObject({ valid: true });
  });

  it('replaces documents named again, leaving no stale chunks, within the tenant only', async () => {
    const a = await newTenant();
    const b = await newTenant();
    const long = (topic: string) =>
      Array.from({ length: 60 }, (_, i) => `${topic} sentence number ${i} of a long note.`).join(
        ' ',
      );
    const first = await call(a.admin, 'POST', '/v1/documents/batch', {
      documents: [
        { id: 'note', text: long('Echocardiography') },
        { id: 'other', text: 'Hemoglobin A1c tracks glucose over three months.' },
      ],
    });
    expect((first.body as { data: BatchResult[] }).data.map((r) => r.status)).toEqual([201, 201]);
    const chunksBefore = (await pointsPerDocument(a.id)).get('note') ?? 0;
    expect(chunksBefore).toBeGreaterThan(1);

    const again = await call(a.admin, 'POST', '/v1/documents/batch', {
      documents: [{ id: 'note', text: 'Now a short note on audiometry thresholds.' }],
    });
    expect((again.body as { data: BatchResult[] }).data[0]).toMatchObject({
      status: 201,
      chunks: 1,
    });
    expect((await pointsPerDocument(a.id)).get('note')).toBe(1);
    expect((await topDocument(a.user, 'audiometry thresholds'))?.text).toContain('audiometry');
    expect(await documentCount(a.id)).toBe(2);

    // The other tenant sees none of it (control: its own batch is there).
    const theirs = await call(b.admin, 'POST', '/v1/documents/batch', {
      documents: [{ id: 'note', text: 'Tenant b keeps a note on dermatology.' }],
    });
    expect(theirs.status).toBe(200);
    expect((await topDocument(b.user, 'dermatology note'))?.text).toContain('dermatology');
    expect((await topDocument(b.user, 'audiometry thresholds'))?.text ?? '').not.toContain(
      'audiometry',
    );
    expect((await call(b.user, 'GET', '/v1/documents/other')).status).toBe(404);
    expect((await call(a.user, 'GET', '/v1/documents/other')).status).toBe(200);
  });

  it('refuses a malformed batch as a whole, and to roles that may not write', async () => {
    const t = await newTenant();
    const post = (body: unknown, token = t.admin) =>
      call(token, 'POST', '/v1/documents/batch', body);
    for (const bad of [
      {},
      { documents: [] },
      { documents: 'text' },
      { documents: Array.from({ length: 1_001 }, (_, i) => ({ text: `doc ${i}` })) },
      { documents: [{ text: 'ok' }], extra: true },
    ]) {
      const answer = await post(bad);
      const error = (answer.body as { error?: { type?: string } }).error;
      expect([answer.status, error?.type]).toEqual([400, 'invalid_request_error']);
    }
    expect((await post({ documents: [{ text: 'a user may not write' }] }, t.user)).status).toBe(
      403,
    );
    expect(await documentCount(t.id)).toBe(0);
    const allowed = await post({ documents: [{ text: 'an admin may' }] });
    expect((allowed.body as { data: BatchResult[] }).data[0]?.status).toBe(201);
    expect(await documentCount(t.id)).toBe(1);
  });
});
