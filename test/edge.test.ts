import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { testConfig } from './support/env.js';
import { freshId, testPool } from './support/db.js';
import { api } from './support/api.js';
import { chainEvents } from './support/audit.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';

/** What a raw HTTP exchange ended in: an answer, or the socket error the client saw. */
type RawOutcome =
  { kind: 'answer'; status: number; body: string } | { kind: 'error'; code: string };

const MB = 1024 * 1024;

/**
 * Sends `size` bytes as fast as the socket takes them, with or without content-length, and
 * waits for both the answer and the end of the upload. `node:http` is used rather than `fetch`
 * so that a connection reset while uploading is seen as what it is: a client that is still
 * sending when the gateway closes gets a reset, and many clients then lose the answer too.
 */
function upload(
  url: string,
  path: string,
  size: number,
  options: { token?: string; chunked?: boolean },
): Promise<RawOutcome> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.chunked !== true) headers['content-length'] = String(size);
  return new Promise((resolve) => {
    let answer: { status: number; body: string } | undefined;
    let uploaded = false;
    let failed: string | undefined;
    const settle = (): void => {
      if (failed !== undefined) resolve({ kind: 'error', code: failed });
      else if (answer !== undefined && uploaded) resolve({ kind: 'answer', ...answer });
    };
    const fail = (error: NodeJS.ErrnoException): void => {
      failed ??= error.code ?? error.message;
      settle();
    };
    const req = httpRequest(`${url}${path}`, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        answer = { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') };
        settle();
      });
      res.on('error', fail);
    });
    req.on('error', fail);
    req.on('finish', () => {
      uploaded = true;
      settle();
    });
    const piece = Buffer.alloc(MB, 0x20);
    piece[0] = 0x7b; // '{': a body that would be JSON, were it small enough
    // Everything is queued at once: Node's client stops emitting 'drain' on a request whose
    // answer has already ended, so a writer that waits for it would wait for ever.
    for (let sent = 0; sent < size; sent += MB) req.write(piece);
    req.end();
  });
}

describe('edge: the token before the body, and refusals every client can read', () => {
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

  it('answers a 30 MB body with a readable 413 every time, with a token and without', async () => {
    for (let i = 0; i < 10; i++) {
      const token = i % 2 === 0 ? user : undefined;
      const outcome = await upload(gateway.url, '/v1/retrieve', 30 * MB, {
        ...(token !== undefined ? { token } : {}),
      });
      expect({ attempt: i, outcome: outcome.kind === 'error' ? outcome.code : 'answer' }).toEqual({
        attempt: i,
        outcome: 'answer',
      });
      if (outcome.kind !== 'answer') continue;
      expect(outcome.status).toBe(413);
      expect(JSON.parse(outcome.body)).toMatchObject({
        error: { type: 'invalid_request_error', code: 'payload_too_large' },
      });
    }
    // Control: a small body on the same gateway is still answered.
    expect((await retrieve(JSON.stringify({ query: 'after' }))).status).toBe(200);
  });

  it('answers a 30 MB chunked body (no content-length) with a readable 413 every time', async () => {
    for (let i = 0; i < 5; i++) {
      const outcome = await upload(gateway.url, '/v1/retrieve', 30 * MB, {
        token: user,
        chunked: true,
      });
      expect({ attempt: i, outcome: outcome.kind === 'error' ? outcome.code : 'answer' }).toEqual({
        attempt: i,
        outcome: 'answer',
      });
      if (outcome.kind !== 'answer') continue;
      expect(outcome.status).toBe(413);
      expect(JSON.parse(outcome.body)).toMatchObject({ error: { code: 'payload_too_large' } });
    }
  });
});
