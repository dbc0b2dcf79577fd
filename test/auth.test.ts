import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import type pg from 'pg';
import { SignJWT } from 'jose';
import { testConfig } from './support/env.js';
import { freshId, seedTenantRow, testPool } from './support/db.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider, TEST_AUDIENCE, TEST_ISSUER } from './support/identity.js';
import { TENANT_STATE_TTL_MS as STATUS_TTL_MS } from '@isogate/isolation';

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

describe('JWT at the edge', () => {
  let idp: TestIdentityProvider;
  let gateway: RunningGateway;
  let owner: pg.Pool;
  const msp = freshId('msp');
  const tenant = freshId('auth');
  const suspended = freshId('susp');

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    owner = testPool('owner');
    await seedTenantRow(owner, tenant, msp, 'active');
    await seedTenantRow(owner, suspended, msp, 'suspended');
    gateway = await startGateway(testConfig(idp.env));
  });
  afterAll(async () => {
    await gateway.close();
    await idp.close();
    await owner.end();
  });

  const call = async (token: string | undefined, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
    const response = await fetch(`${gateway.url}/v1/models`, { ...init, headers });
    return {
      status: response.status,
      body: (await response.json()) as { error?: { code: string } },
    };
  };
  const valid = (claims: Record<string, unknown> = {}, options = {}) =>
    idp.token({ tenant_id: tenant, roles: ['user'], ...claims }, options);

  it.each(['RS256', 'ES256', 'EdDSA'] as const)(
    'accepts a valid %s token (the control)',
    async (alg) => {
      expect(await call(await valid({}, { alg }))).toMatchObject({ status: 200 });
    },
  );

  it('refuses a request without a token', async () => {
    expect(await call(undefined)).toEqual({
      status: 401,
      body: {
        error: expect.objectContaining({ code: 'invalid_token', type: 'authentication_error' }),
      },
    });
  });

  it('refuses alg none', async () => {
    const header = b64url({ alg: 'none', typ: 'JWT' });
    const payload = b64url({
      iss: TEST_ISSUER,
      aud: TEST_AUDIENCE,
      sub: 'x',
      tenant_id: tenant,
      roles: ['user'],
      exp: now() + 60,
    });
    expect((await call(`${header}.${payload}.`)).status).toBe(401);
    expect((await call(await valid())).status).toBe(200);
  });

  it('refuses HS256 signed with the public key as the secret', async () => {
    const secret = JSON.stringify(idp.publicJwk('ES256'));
    const header = b64url({ alg: 'HS256', typ: 'JWT', kid: idp.publicJwk('ES256').kid });
    const payload = b64url({
      iss: TEST_ISSUER,
      aud: TEST_AUDIENCE,
      sub: 'x',
      tenant_id: tenant,
      roles: ['user'],
      exp: now() + 60,
    });
    const signature = createHmac('sha256', secret)
      .update(`${header}.${payload}`)
      .digest('base64url');
    expect((await call(`${header}.${payload}.${signature}`)).status).toBe(401);
    expect((await call(await valid())).status).toBe(200);
  });

  it.each([
    ['a wrong issuer', { iss: 'https://evil.example' }],
    ['a wrong audience', { aud: 'someone-else' }],
    ['an expired token', { exp: now() - 120 }],
    ['no exp', { exp: undefined }],
    ['nbf in the future', { nbf: now() + 600 }],
    ['iat in the future', { iat: now() + 600 }],
    ['no sub', { sub: undefined }],
    ['an empty tenant_id', { tenant_id: '' }],
    ['an array tenant_id', { tenant_id: [tenant] }],
    ['an object tenant_id', { tenant_id: { id: tenant } }],
    ['an uppercase tenant_id', { tenant_id: tenant.toUpperCase() }],
    ['a wildcard tenant_id', { tenant_id: 'a*' }],
    ['a tenant_id with a colon', { tenant_id: 'a:b' }],
    ['no tenant_id', { tenant_id: undefined }],
    ['an unknown role', { roles: ['superadmin'] }],
    ['roles that are not an array', { roles: 'user' }],
    ['operator and tenant roles mixed', { roles: ['user', 'operator'], msp_id: msp }],
  ])('refuses %s, and accepts the same token without the defect', async (_name, defect) => {
    expect((await call(await valid(defect))).status).toBe(401);
    expect((await call(await valid())).status).toBe(200);
  });

  it('accepts a 20 s clock skew on exp and nbf (within the 30 s tolerance)', async () => {
    expect((await call(await valid({ exp: now() - 20, nbf: now() + 20 }))).status).toBe(200);
  });

  it('refuses an unknown kid, and refetches the JWKS for it at most once per cooldown', async () => {
    const before = idp.fetches;
    expect((await call(await valid({}, { header: { kid: 'no-such-kid' } }))).status).toBe(401);
    expect((await call(await valid({}, { header: { kid: 'no-such-kid-2' } }))).status).toBe(401);
    expect(idp.fetches - before).toBeLessThanOrEqual(1);
    expect((await call(await valid())).status).toBe(200);
  });

  it('accepts a key rotated into the JWKS (refetched on its unknown kid)', async () => {
    await new Promise((r) => setTimeout(r, 5_100)); // let the refetch cooldown of the previous test pass
    await idp.addKey('EdDSA');
    expect((await call(await valid({}, { alg: 'EdDSA' }))).status).toBe(200);
  });

  it('refuses a tampered payload', async () => {
    const [header, , signature] = (await valid()).split('.');
    const forged = b64url({
      iss: TEST_ISSUER,
      aud: TEST_AUDIENCE,
      sub: 'x',
      tenant_id: suspended,
      roles: ['admin'],
      exp: now() + 60,
    });
    expect((await call(`${header}.${forged}.${signature}`)).status).toBe(401);
  });

  it("refuses a second issuer's key even with the right claims and a known kid", async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = idp.publicJwk('ES256').kid as string;
    const token = await new SignJWT({ tenant_id: tenant, roles: ['user'] })
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer(TEST_ISSUER)
      .setAudience(TEST_AUDIENCE)
      .setSubject('x')
      .setExpirationTime('5m')
      .sign(privateKey);
    expect((await call(token)).status).toBe(401);
    expect((await call(await valid())).status).toBe(200);
  });

  it('refuses a suspended tenant (403) and an unknown tenant (401); an active one passes', async () => {
    expect(await call(await valid({ tenant_id: suspended }))).toMatchObject({
      status: 403,
      body: { error: { code: 'tenant_suspended' } },
    });
    expect((await call(await valid({ tenant_id: freshId('ghost') }))).status).toBe(401);
    expect((await call(await valid())).status).toBe(200);
  });

  it('remembers a verified token only until it expires (with the clock tolerance)', async () => {
    // Valid for about 2 more seconds: exp lies 28 s in the past, the tolerance is 30 s.
    const expiring = await valid({ exp: now() - 28 });
    expect((await call(expiring)).status).toBe(200);
    expect((await call(expiring)).status).toBe(200); // now from the verified-token cache
    await new Promise((r) => setTimeout(r, 3_500));
    expect((await call(expiring)).status).toBe(401);
    expect((await call(await valid())).status).toBe(200);
  });

  it("does not let a remembered token outlive its tenant's suspension", async () => {
    const later = freshId('later');
    await seedTenantRow(owner, later, msp, 'active');
    const token = await valid({ tenant_id: later });
    expect((await call(token)).status).toBe(200);
    await seedTenantRow(owner, later, msp, 'suspended');
    await new Promise((r) => setTimeout(r, STATUS_TTL_MS + 200));
    expect(await call(token)).toMatchObject({
      status: 403,
      body: { error: { code: 'tenant_suspended' } },
    });
    expect((await call(await valid())).status).toBe(200);
  });

  it('answers 403 when the roles do not allow the route, 200 when they do', async () => {
    expect(await call(await valid({ roles: ['auditor'] }))).toMatchObject({
      status: 403,
      body: { error: { code: 'forbidden' } },
    });
    expect((await call(await valid({ roles: ['auditor', 'admin'] }))).status).toBe(200);
  });
});
