import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { testConfig } from './support/env.js';
import { freshId, seedTenantRow, testPool } from './support/db.js';
import { api } from './support/api.js';
import { chainEvents, type ChainRef } from './support/audit.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';

describe('audit: one event per /v1 request', () => {
  let idp: TestIdentityProvider;
  let gateway: RunningGateway;
  const owner = testPool('owner');
  const superuser = testPool('superuser');
  const msp = freshId('msp');
  const tenant = freshId('aud');
  const suspended = freshId('aud');
  const otherTenant = freshId('aud');
  let user: string;
  let auditor: string;
  let operator: string;

  /** Calls the gateway with a fresh request id; answers the response and that id. */
  const call = async (
    token: string | undefined,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const requestId = `req-${randomUUID()}`;
    const response = await api(gateway.url, token, method, path, body, {
      'x-request-id': requestId,
      ...headers,
    });
    return { ...response, requestId };
  };
  const expectOneEvent = async (
    chain: ChainRef,
    requestId: string,
    expected: { status: number; outcome: string; action?: string },
  ) => {
    const rows = await chainEvents(owner, chain, requestId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: expected.status, outcome: expected.outcome });
    if (expected.action) expect(rows[0]?.action).toBe(expected.action);
    return rows[0];
  };

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    gateway = await startGateway(testConfig(idp.env));
    await seedTenantRow(owner, tenant, msp);
    await seedTenantRow(owner, otherTenant, msp);
    await seedTenantRow(owner, suspended, msp, 'suspended');
    user = await idp.token({ tenant_id: tenant, roles: ['user'], sub: 'alice' });
    auditor = await idp.token({ tenant_id: tenant, roles: ['auditor'], sub: 'audrey' });
    operator = await idp.token({ msp_id: msp, roles: ['operator'], sub: 'olga' });
  });
  afterAll(async () => {
    await gateway.close();
    await idp.close();
    await owner.end();
    await superuser.end();
  });

  it('records an allowed call in the tenant chain, with the documented fields', async () => {
    const response = await call(user, 'GET', '/v1/models');
    expect(response.status).toBe(200);
    const row = await expectOneEvent({ tenantId: tenant }, response.requestId, {
      status: 200,
      outcome: 'ok',
      action: 'GET /v1/models',
    });
    expect(row).toMatchObject({
      tenant_id: tenant,
      actor: 'alice',
      id: response.headers.get('x-audit-event-id'),
    });
  });

  it('records 401s (no token, a forged token) in the platform stream, in no tenant chain', async () => {
    const none = await call(undefined, 'GET', '/v1/models');
    expect(none.status).toBe(401);
    await expectOneEvent('platform', none.requestId, { status: 401, outcome: 'denied' });
    const stranger = await TestIdentityProvider.start();
    const forged = await stranger.token({ tenant_id: tenant, roles: ['user'] });
    await stranger.close();
    const refused = await call(forged, 'GET', '/v1/models');
    expect(refused.status).toBe(401);
    const row = await expectOneEvent('platform', refused.requestId, {
      status: 401,
      outcome: 'denied',
    });
    expect(row?.details).toMatchObject({
      error: 'invalid_token',
      unverified_claims: { tenant_id: tenant },
    });
    expect(await chainEvents(owner, { tenantId: tenant }, refused.requestId)).toHaveLength(0);
  });

  it('records 403 (role) and 403 (suspended tenant) in the tenant chain', async () => {
    const role = await call(user, 'GET', '/v1/audit/events');
    expect(role.status).toBe(403);
    await expectOneEvent({ tenantId: tenant }, role.requestId, { status: 403, outcome: 'denied' });
    const token = await idp.token({ tenant_id: suspended, roles: ['user'] });
    const state = await call(token, 'GET', '/v1/models');
    expect(state.status).toBe(403);
    const row = await expectOneEvent({ tenantId: suspended }, state.requestId, {
      status: 403,
      outcome: 'denied',
    });
    expect(row?.details).toMatchObject({ error: 'tenant_suspended' });
  });

  it('records 404s: an unknown route (platform) and a tenant of no one (MSP chain)', async () => {
    const route = await call(user, 'GET', '/v1/no-such-route');
    expect(route.status).toBe(404);
    await expectOneEvent('platform', route.requestId, { status: 404, outcome: 'denied' });
    const missing = await call(operator, 'GET', `/v1/tenants/${freshId('none')}`);
    expect(missing.status).toBe(404);
    await expectOneEvent({ mspId: msp }, missing.requestId, { status: 404, outcome: 'denied' });
  });

  it('records operator calls (200, 409, 400) and body refusals (413, 422) in the MSP chain', async () => {
    const list = await call(operator, 'GET', '/v1/tenants');
    expect(list.status).toBe(200);
    await expectOneEvent({ mspId: msp }, list.requestId, { status: 200, outcome: 'ok' });
    const conflict = await call(operator, 'POST', '/v1/tenants', { id: tenant, name: 'again' });
    expect(conflict.status).toBe(409);
    await expectOneEvent({ mspId: msp }, conflict.requestId, { status: 409, outcome: 'denied' });
    // The token is verified before the body is read, so body refusals name their caller too.
    const media = await call(operator, 'POST', '/v1/tenants', '<id/>', {
      'content-type': 'application/xml',
    });
    expect(media.status).toBe(422);
    await expectOneEvent({ mspId: msp }, media.requestId, { status: 422, outcome: 'denied' });
    expect(await chainEvents(owner, 'platform', media.requestId)).toHaveLength(0);
    const invalid = await call(operator, 'POST', '/v1/tenants', { id: 'A!', name: 'x' });
    expect(invalid.status).toBe(400);
    await expectOneEvent({ mspId: msp }, invalid.requestId, { status: 400, outcome: 'denied' });
    const large = await call(operator, 'POST', '/v1/tenants', {
      id: freshId('big'),
      name: 'x'.repeat(17 * 1024 * 1024),
    });
    expect(large.status).toBe(413);
    await expectOneEvent({ mspId: msp }, large.requestId, { status: 413, outcome: 'denied' });
    expect(await chainEvents(owner, 'platform', large.requestId)).toHaveLength(0);
  });

  it('fails closed: when the audit insert fails the answer is a 503, not the answer', async () => {
    const victim = freshId('aud');
    await seedTenantRow(owner, victim, msp);
    const token = await idp.token({ tenant_id: victim, roles: ['user'] });
    const fn = `fail_${victim.replace(/-/g, '_')}`;
    await superuser.query(
      `CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
         IF NEW.tenant_id = '${victim}' THEN RAISE EXCEPTION 'audit store refuses'; END IF; RETURN NEW; END $$`,
    );
    await superuser.query(
      `CREATE TRIGGER ${fn} BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION ${fn}()`,
    );
    try {
      const refused = await call(token, 'GET', '/v1/models');
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ error: { code: 'store_unavailable' } });
      expect(JSON.stringify(refused.body)).not.toContain('gpt');
      expect(await chainEvents(owner, { tenantId: victim })).toHaveLength(0);
    } finally {
      await superuser.query(`DROP TRIGGER ${fn} ON audit_events`);
      await superuser.query(`DROP FUNCTION ${fn}()`);
    }
    // Control: once the store takes events again, the same call is answered and recorded.
    const allowed = await call(token, 'GET', '/v1/models');
    expect(allowed.status).toBe(200);
    await expectOneEvent({ tenantId: victim }, allowed.requestId, { status: 200, outcome: 'ok' });
  });

  it("lets an auditor read its own tenant's trail only (control: its own trail is complete)", async () => {
    const mine = await call(user, 'GET', '/v1/models');
    const otherUser = await idp.token({ tenant_id: otherTenant, roles: ['user'] });
    const theirs = await call(otherUser, 'GET', '/v1/models');
    const events = await call(auditor, 'GET', '/v1/audit/events?limit=1000');
    expect(events.status).toBe(200);
    const data = (events.body as { data: { request_id: string; tenant_id: string; seq: number }[] })
      .data;
    expect(data.map((e) => e.request_id)).toContain(mine.requestId);
    expect(data.map((e) => e.request_id)).not.toContain(theirs.requestId);
    expect(new Set(data.map((e) => e.tenant_id))).toEqual(new Set([tenant]));
    expect(data.map((e) => e.seq)).toEqual(data.map((_, i) => i + 1));
    const otherAuditor = await idp.token({ tenant_id: otherTenant, roles: ['auditor'] });
    const theirEvents = await call(otherAuditor, 'GET', '/v1/audit/events?limit=1000');
    const theirData = (theirEvents.body as { data: { request_id: string }[] }).data;
    expect(theirData.map((e) => e.request_id)).toContain(theirs.requestId);
    expect(theirData.map((e) => e.request_id)).not.toContain(mine.requestId);
    const verify = await call(auditor, 'GET', '/v1/audit/verify');
    expect(verify.body).toMatchObject({ valid: true, first_broken_seq: null });
  });

  it('filters events and pages them with a cursor', async () => {
    const first = await call(auditor, 'GET', '/v1/audit/events?limit=2');
    const page = first.body as { data: { seq: number }[]; next_cursor: string };
    expect(page.data).toHaveLength(2);
    const next = await call(auditor, 'GET', `/v1/audit/events?limit=2&cursor=${page.next_cursor}`);
    expect((next.body as { data: { seq: number }[] }).data[0]?.seq).toBe(3);
    const denied = await call(auditor, 'GET', '/v1/audit/events?outcome=denied&limit=1000');
    const outcomes = (denied.body as { data: { outcome: string }[] }).data.map((e) => e.outcome);
    expect(outcomes.length).toBeGreaterThan(0);
    expect(new Set(outcomes)).toEqual(new Set(['denied']));
    expect((await call(auditor, 'GET', '/v1/audit/events?cursor=abc')).status).toBe(400);
  });

  it('records a 429 (requests per minute used up) in the tenant chain', async () => {
    const limited = freshId('aud');
    const quotas = { requests_per_minute: 1 };
    expect(
      (await call(operator, 'POST', '/v1/tenants', { id: limited, name: limited, quotas })).status,
    ).toBe(201);
    try {
      const token = await idp.token({ tenant_id: limited, roles: ['user'] });
      expect((await call(token, 'GET', '/v1/models')).status).toBe(200);
      const refused = await call(token, 'GET', '/v1/models');
      expect(refused.status).toBe(429);
      const row = await expectOneEvent({ tenantId: limited }, refused.requestId, {
        status: 429,
        outcome: 'denied',
      });
      expect(row?.details).toMatchObject({ error: 'rate_limited' });
    } finally {
      await call(operator, 'DELETE', `/v1/tenants/${limited}`);
    }
  });

  it("gives a deletion receipt the id of the delete call's own audit event", async () => {
    const id = freshId('gone');
    expect((await call(operator, 'POST', '/v1/tenants', { id, name: id })).status).toBe(201);
    const deleted = await call(operator, 'DELETE', `/v1/tenants/${id}`);
    expect(deleted.status).toBe(200);
    const eventId = (deleted.body as { audit_event_id: string }).audit_event_id;
    expect(eventId).toBe(deleted.headers.get('x-audit-event-id'));
    const row = await expectOneEvent({ mspId: msp }, deleted.requestId, {
      status: 200,
      outcome: 'ok',
    });
    expect(row).toMatchObject({ id: eventId, tenant_id: id, action: 'DELETE /v1/tenants/:id' });
  });
});
