import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { api } from './support/api.js';
import { chainEvents, scoped } from './support/audit.js';
import { freshId, testPool } from './support/db.js';
import { testConfig } from './support/env.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';

const PHI = {
  data_class: 'phi',
  allowed_regions: ['us-east', 'us-west'],
  require: { baa: true, zero_retention: true, certifications: ['hipaa'] },
  models: ['gpt-4o-mini'],
  default_model: 'gpt-4o-mini',
} as const;

describe('model policies, set by operators', () => {
  let idp: TestIdentityProvider;
  let gateway: RunningGateway;
  const gatewayRole = testPool('gateway');
  const owner = testPool('owner');
  const mspA = freshId('msp');
  const mspB = freshId('msp');
  let operatorA: string;
  let operatorB: string;
  const tenants: [string, string][] = [];

  const call = (token: string, method: string, path: string, body?: unknown) =>
    api(gateway.url, token, method, path, body);
  const newTenant = async (operator: string, body: object = {}) => {
    const id = freshId('pol');
    const created = await call(operator, 'POST', '/v1/tenants', { id, name: id, ...body });
    expect(created.status).toBe(201);
    tenants.push([operator, id]);
    return { id, record: created.body };
  };
  /** The MSP default policy a tenant's own requests can read (as the gateway role). */
  const visibleTo = (tenantId: string) =>
    scoped(gatewayRole, { tenantId }, async (client) => {
      const rows = await client.query<{ msp_id: string }>('SELECT msp_id FROM msp_policies');
      return rows.rows.map((r) => r.msp_id);
    });

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    gateway = await startGateway(testConfig({ ...idp.env }));
    operatorA = await idp.token({ msp_id: mspA, roles: ['operator'] });
    operatorB = await idp.token({ msp_id: mspB, roles: ['operator'] });
  });
  afterAll(async () => {
    for (const [operator, id] of tenants) await call(operator, 'DELETE', `/v1/tenants/${id}`);
    await gatewayRole.end();
    await owner.end();
    await gateway.close();
    await idp.close();
  });

  it('keeps a tenant’s policy, shows it, and refuses a malformed one naming the field', async () => {
    const { id, record } = await newTenant(operatorA, { policy: PHI });
    expect(record).toMatchObject({ policy: PHI });
    const cases: [object, string][] = [
      [{ data_class: 'secret' }, 'policy.data_class'],
      [{ allowed_regions: ['US East'] }, 'policy.allowed_regions.0'],
      [{ require: { baa: true, hipaa: true } }, 'policy.require.hipaa'],
      [{ models: ['a'], default_model: 'b' }, 'policy.default_model'],
      [{ vendor: 'x' }, 'policy.vendor'],
    ];
    for (const [policy, param] of cases) {
      const refused = await call(operatorA, 'PATCH', `/v1/tenants/${id}`, { policy });
      expect({ status: refused.status, error: refused.body.error }).toMatchObject({
        status: 400,
        error: { code: 'invalid_request', param },
      });
    }
    // Nothing changed, and a good change is kept and audited by its digest.
    expect((await call(operatorA, 'GET', `/v1/tenants/${id}`)).body).toMatchObject({ policy: PHI });
    const changed = await call(operatorA, 'PATCH', `/v1/tenants/${id}`, {
      policy: { data_class: 'public' },
    });
    expect(changed.body).toMatchObject({ policy: { data_class: 'public' } });
    const requestId = changed.headers.get('x-request-id') as string;
    const [event] = await chainEvents(owner, { mspId: mspA }, requestId);
    expect(event?.details).toMatchObject({
      policy_sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('keeps each MSP’s default policy to that MSP and its own tenants', async () => {
    expect((await call(operatorA, 'GET', '/v1/msp/policy')).body).toEqual({
      policy: {},
      updated_at: null,
    });
    const put = await call(operatorA, 'PUT', '/v1/msp/policy', PHI);
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ policy: PHI, updated_at: expect.any(String) });
    expect((await call(operatorA, 'GET', '/v1/msp/policy')).body).toMatchObject({ policy: PHI });
    // Control: the other MSP sees its own (none), and its tenants cannot read this one's.
    expect((await call(operatorB, 'GET', '/v1/msp/policy')).body).toEqual({
      policy: {},
      updated_at: null,
    });
    const { id: ofA } = await newTenant(operatorA);
    const { id: ofB } = await newTenant(operatorB);
    expect(await visibleTo(ofA)).toEqual([mspA]);
    expect(await visibleTo(ofB)).toEqual([]);
    await call(operatorB, 'PUT', '/v1/msp/policy', { data_class: 'internal' });
    expect(await visibleTo(ofB)).toEqual([mspB]);
    expect(await visibleTo(ofA)).toEqual([mspA]);
    // A tenant's token cannot read or set it.
    const user = await idp.token({ tenant_id: ofA, roles: ['admin'] });
    expect((await call(user, 'GET', '/v1/msp/policy')).status).toBe(403);
    expect((await call(user, 'PUT', '/v1/msp/policy', {})).status).toBe(403);
    const bad = await call(operatorA, 'PUT', '/v1/msp/policy', { require: { baa: 'yes' } });
    expect(bad.status).toBe(400);
    expect((await call(operatorA, 'GET', '/v1/msp/policy')).body).toMatchObject({ policy: PHI });
  });
});
