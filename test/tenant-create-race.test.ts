import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { testConfig } from './support/env.js';
import { freshId, seedTenantRow, testPool } from './support/db.js';
import { api, type ApiResponse } from './support/api.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';

/**
 * Many creations of one id at once, more than the control plane has connections: the one that
 * wins provisions the tenant, every other one is told at once that the id is taken. None may
 * wait for a connection another of them holds (that answered 503 before).
 */
describe('concurrent creations of one tenant id', () => {
  const concurrency = 20;
  let idp: TestIdentityProvider;
  let gateway: RunningGateway;
  let owner: pg.Pool;
  const msp = freshId('msp');
  let operator: string;
  const created: string[] = [];

  const createAll = (id: string) =>
    Promise.all(
      Array.from({ length: concurrency }, (_, i) =>
        api(gateway.url, operator, 'POST', '/v1/tenants', { id, name: `Racer ${i}` }),
      ),
    );
  const tally = (responses: ApiResponse[]) =>
    responses.reduce<Record<string, number>>((counts, r) => {
      const code = (r.body as { error?: { code?: string } }).error?.code;
      const key = code === undefined ? String(r.status) : `${r.status} ${code}`;
      return { ...counts, [key]: (counts[key] ?? 0) + 1 };
    }, {});

  /** The tenant is there once, active, and a token of it works. */
  async function expectOneWorkingTenant(id: string) {
    const list = await api<{ data: { id: string; status: string }[] }>(
      gateway.url,
      operator,
      'GET',
      '/v1/tenants',
    );
    expect(list.body.data.filter((t) => t.id === id)).toEqual([
      expect.objectContaining({ id, status: 'active' }),
    ]);
    const token = await idp.token({ tenant_id: id, roles: ['user'] });
    expect((await api(gateway.url, token, 'GET', '/v1/models')).status).toBe(200);
  }

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    gateway = await startGateway(testConfig(idp.env));
    owner = testPool('owner');
    operator = await idp.token({ msp_id: msp, roles: ['operator'], sub: 'op-race' });
  });
  afterAll(async () => {
    for (const id of created) await api(gateway.url, operator, 'DELETE', `/v1/tenants/${id}`);
    await gateway.close();
    await owner.end();
    await idp.close();
  });

  it('answers one 201 and nineteen 409 tenant_exists, and the tenant works', async () => {
    const id = freshId('race');
    created.push(id);
    const responses = await createAll(id);
    expect(tally(responses)).toEqual({ '201': 1, '409 tenant_exists': concurrency - 1 });
    expect(responses.find((r) => r.status === 201)?.body).toMatchObject({ id, status: 'active' });
    await expectOneWorkingTenant(id);
  });

  it('lets one of many concurrent retries complete a half-provisioned tenant', async () => {
    const id = freshId('half');
    created.push(id);
    // What a creation that failed after its first step leaves: the row, nothing else.
    await seedTenantRow(owner, id, msp, 'provisioning');
    const token = await idp.token({ tenant_id: id, roles: ['user'] });
    expect(await api(gateway.url, token, 'GET', '/v1/models')).toMatchObject({
      status: 403,
      body: { error: { code: 'tenant_suspended' } },
    });

    const responses = await createAll(id);
    expect(tally(responses)).toEqual({ '201': 1, '409 tenant_exists': concurrency - 1 });
    await expectOneWorkingTenant(id);
  });
});
