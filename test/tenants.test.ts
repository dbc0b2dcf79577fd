import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { testConfig } from './support/env.js';
import { freshId } from './support/db.js';
import { api } from './support/api.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';

describe('tenant control plane', () => {
  let idp: TestIdentityProvider;
  let gateway: RunningGateway;
  const msp1 = freshId('msp');
  const msp2 = freshId('msp');
  let op1: string;
  let op2: string;
  const created: string[] = [];

  const call = (
    token: string | undefined,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) => api(gateway.url, token, method, path, body, headers);
  const tenantToken = (tenantId: string, roles = ['user', 'admin', 'auditor']) =>
    idp.token({ tenant_id: tenantId, roles });
  const create = async (id: string, token = op1, extra: Record<string, unknown> = {}) => {
    const response = await call(token, 'POST', '/v1/tenants', {
      id,
      name: `Tenant ${id}`,
      ...extra,
    });
    if (response.status === 201) created.push(id);
    return response;
  };

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    gateway = await startGateway(testConfig(idp.env));
    op1 = await idp.token({ msp_id: msp1, roles: ['operator'], sub: 'op-1' });
    op2 = await idp.token({ msp_id: msp2, roles: ['operator'], sub: 'op-2' });
  });
  afterAll(async () => {
    for (const id of created) await call(op1, 'DELETE', `/v1/tenants/${id}`);
    await gateway.close();
    await idp.close();
  });

  it('creates a tenant ready in every store, with the documented shape', async () => {
    const id = freshId('acme');
    const response = await create(id, op1, {
      quotas: { requests_per_minute: 100 },
      retention_days: 365,
      pii: 'pseudonymize',
    });
    expect(response.status).toBe(201);
    expect(response.body).toEqual({
      id,
      name: `Tenant ${id}`,
      msp_id: msp1,
      status: 'active',
      quotas: { requests_per_minute: 100 },
      retention_days: 365,
      pii: 'pseudonymize',
      pii_patterns: [],
      images: false,
      policy: {},
      // Without an embeddings model configured, documents are searched by BM25 alone.
      embeddings_model: null,
      created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    expect((await call(await tenantToken(id), 'GET', '/v1/models')).status).toBe(200);
  });

  it('takes identifier patterns for the PII rules and refuses ones that could be slow', async () => {
    const id = freshId('mrn');
    const made = await create(id, op1, { pii_patterns: ['MRN-\\d{6}'] });
    expect(made.body).toMatchObject({ pii_patterns: ['MRN-\\d{6}'] });
    const changed = await call(op1, 'PATCH', `/v1/tenants/${id}`, { pii_patterns: ['ACCT\\d{8}'] });
    expect(changed.body).toMatchObject({ pii_patterns: ['ACCT\\d{8}'] });
    for (const pattern of ['(a+)+$', '(x|xx){1,9}', '\\d*', '(?=a)b', '(', '']) {
      const refused = await call(op1, 'PATCH', `/v1/tenants/${id}`, { pii_patterns: [pattern] });
      expect(refused.status).toBe(400);
    }
    expect((await call(op1, 'GET', `/v1/tenants/${id}`)).body).toMatchObject({
      pii_patterns: ['ACCT\\d{8}'],
    });
  });

  it('refuses an id taken by another MSP with a 409 that does not say whose', async () => {
    const id = freshId('taken');
    expect((await create(id, op1)).status).toBe(201);
    const again = await create(id, op2);
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'tenant_exists' } } });
    expect(JSON.stringify(again.body)).not.toContain(msp1);
    expect((await create(id, op1)).body).toEqual(again.body);
  });

  it.each([
    ['an id with capitals', { id: 'Acme', name: 'x' }],
    ['an id too short', { id: 'ab', name: 'x' }],
    ['an id with a colon', { id: 'a:b:c', name: 'x' }],
    ['no name', { id: 'valid-id' }],
    ['an unknown field', { id: 'valid-id', name: 'x', msp_id: 'someone-else' }],
    ['a bad pii mode', { id: 'valid-id', name: 'x', pii: 'maybe' }],
    ['a negative quota', { id: 'valid-id', name: 'x', quotas: { max_documents: -1 } }],
    ['an unknown quota', { id: 'valid-id', name: 'x', quotas: { gpus: 1 } }],
  ])('answers 400 to %s and creates nothing', async (_name, body) => {
    const response = await call(op1, 'POST', '/v1/tenants', body);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      error: { type: 'invalid_request_error', code: 'invalid_request' },
    });
    expect((await call(op1, 'GET', '/v1/tenants/valid-id')).status).toBe(404);
  });

  it('answers 400 to malformed JSON', async () => {
    const response = await call(op1, 'POST', '/v1/tenants', '{"id": "x",');
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code: 'invalid_json' } });
  });

  it("keeps each MSP to its own tenants: another MSP's answer 404, exactly like a missing one", async () => {
    const id = freshId('own');
    await create(id, op1);
    expect((await call(op1, 'GET', `/v1/tenants/${id}`)).status).toBe(200);
    const list1 = (await call(op1, 'GET', '/v1/tenants')).body as { data: { id: string }[] };
    expect(list1.data.map((t) => t.id)).toContain(id);

    const foreign = await call(op2, 'GET', `/v1/tenants/${id}`);
    const missing = await call(op2, 'GET', `/v1/tenants/${freshId('none')}`);
    expect(foreign).toMatchObject({ status: 404, body: missing.body });
    expect((await call(op2, 'PATCH', `/v1/tenants/${id}`, { status: 'suspended' })).status).toBe(
      404,
    );
    expect((await call(op2, 'DELETE', `/v1/tenants/${id}`)).status).toBe(404);
    expect((await call(op2, 'GET', `/v1/tenants/${id}/usage`)).status).toBe(404);
    const list2 = (await call(op2, 'GET', '/v1/tenants')).body as { data: { id: string }[] };
    expect(list2.data.map((t) => t.id)).not.toContain(id);
    // The tenant is untouched: still active for its own callers.
    expect((await call(await tenantToken(id), 'GET', '/v1/models')).status).toBe(200);
  });

  it('keeps operators out of tenant routes and tenants out of operator routes', async () => {
    const id = freshId('roles');
    await create(id, op1);
    expect((await call(op1, 'GET', '/v1/models')).status).toBe(403);
    expect((await call(await tenantToken(id), 'GET', '/v1/tenants')).status).toBe(403);
    expect(
      (await call(await tenantToken(id), 'POST', '/v1/tenants', { id: freshId('x'), name: 'x' }))
        .status,
    ).toBe(403);
    expect((await call(op1, 'GET', '/v1/tenants')).status).toBe(200);
  });

  it('ignores identity a caller sends besides the token', async () => {
    const id = freshId('hdr');
    await create(id, op1);
    const list = await call(op2, 'GET', `/v1/tenants?msp_id=${msp1}`, undefined, {
      'x-tenant-id': id,
      'x-msp-id': msp1,
    });
    expect(list.status).toBe(400);
    const plain = (
      await call(op2, 'GET', '/v1/tenants', undefined, { 'x-tenant-id': id, 'x-msp-id': msp1 })
    ).body as {
      data: { id: string }[];
    };
    expect(plain.data.map((t) => t.id)).not.toContain(id);
  });

  it('suspends a tenant (its tokens refused within 5 s) and resumes it', async () => {
    const id = freshId('susp');
    await create(id, op1);
    const token = await tenantToken(id);
    expect((await call(token, 'GET', '/v1/models')).status).toBe(200);
    expect(
      (await call(op1, 'PATCH', `/v1/tenants/${id}`, { status: 'suspended' })).body,
    ).toMatchObject({ status: 'suspended' });
    expect(await call(token, 'GET', '/v1/models')).toMatchObject({
      status: 403,
      body: { error: { code: 'tenant_suspended' } },
    });
    expect(
      (await call(op1, 'PATCH', `/v1/tenants/${id}`, { status: 'active', name: 'Renamed' })).body,
    ).toMatchObject({
      status: 'active',
      name: 'Renamed',
    });
    expect((await call(token, 'GET', '/v1/models')).status).toBe(200);
  });

  it('deletes a tenant with a receipt; its tokens stop working; the id can be created again', async () => {
    const id = freshId('del');
    await create(id, op1);
    const token = await tenantToken(id);
    const receipt = await call(op1, 'DELETE', `/v1/tenants/${id}`);
    expect(receipt).toMatchObject({
      status: 200,
      body: {
        tenant_id: id,
        deleted_at: expect.any(String),
        stores: {
          postgres: { documents: 0, interactions: 0, keys: 1 },
          qdrant: { points: 0 },
          falkordb: expect.any(Object),
          redis: expect.any(Object),
        },
      },
    });
    expect((await call(token, 'GET', '/v1/models')).status).toBe(401);
    expect((await call(op1, 'GET', `/v1/tenants/${id}`)).status).toBe(404);
    expect((await create(id, op1)).status).toBe(201);
    expect((await call(token, 'GET', '/v1/models')).status).toBe(200);
  });

  it('serves usage per day for the operator', async () => {
    const id = freshId('use');
    await create(id, op1);
    const usage = await call(op1, 'GET', `/v1/tenants/${id}/usage?from=2026-01-01&to=2026-01-31`);
    expect(usage).toMatchObject({
      status: 200,
      body: { tenant_id: id, from: '2026-01-01', to: '2026-01-31', data: [] },
    });
    expect((await call(op1, 'GET', `/v1/tenants/${id}/usage?from=yesterday`)).status).toBe(400);
  });
});
