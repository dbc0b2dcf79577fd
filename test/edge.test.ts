import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { testConfig } from './support/env.js';
import { freshId, testPool } from './support/db.js';
import { api } from './support/api.js';
import { chainEvents } from './support/audit.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';

describe('edge: the token before the body', () => {
  let idp: TestIdentityProvider;
  let gateway: RunningGateway;
  const owner = testPool('owner');
  const msp = freshId('msp');
  const tenant = freshId('edge');
  let operator: string;
  let user: string;

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    gateway = await startGateway(testConfig(idp.env));
    operator = await idp.token({ msp_id: msp, roles: ['operator'] });
    const created = await api(gateway.url, operator, 'POST', '/v1/tenants', {
      id: tenant,
      name: tenant,
    });
    expect(created.status).toBe(201);
    user = await idp.token({ tenant_id: tenant, roles: ['user'], sub: 'eddie' });
  });
  afterAll(async () => {
    await api(gateway.url, operator, 'DELETE', `/v1/tenants/${tenant}`);
    await gateway.close();
    await idp.close();
    await owner.end();
  });

  const retrieve = async (body: string, token: string | null = user) => {
    const requestId = `req-${randomUUID()}`;
    const response = await api(gateway.url, token ?? undefined, 'POST', '/v1/retrieve', body, {
      'x-request-id': requestId,
    });
    return { ...response, requestId };
  };

  it("records a malformed body of a valid tenant token in that tenant's chain", async () => {
    const malformed = await retrieve('{"query":');
    expect(malformed).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
    const rows = await chainEvents(owner, { tenantId: tenant }, malformed.requestId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 400, outcome: 'denied', actor: 'eddie' });
    expect(rows[0]?.details).toMatchObject({ error: 'invalid_json' });
    expect(await chainEvents(owner, 'platform', malformed.requestId)).toHaveLength(0);
    // Control: the same call with a well-formed body lands in the same chain.
    const wellFormed = await retrieve(JSON.stringify({ query: 'anything' }));
    expect(wellFormed.status).toBe(200);
    const controls = await chainEvents(owner, { tenantId: tenant }, wellFormed.requestId);
    expect(controls).toHaveLength(1);
    expect(controls[0]).toMatchObject({ status: 200, outcome: 'ok', actor: 'eddie' });
  });

  it('answers 401 without a token before reading the body, in the platform stream', async () => {
    const refused = await retrieve('{"query":', null);
    expect(refused).toMatchObject({ status: 401, body: { error: { code: 'invalid_token' } } });
    expect(await chainEvents(owner, 'platform', refused.requestId)).toHaveLength(1);
  });
});
