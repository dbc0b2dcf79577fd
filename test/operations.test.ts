import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { testConfig, requireTestEnv } from './support/env.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TcpProxy } from './support/tcp-proxy.js';

async function waitFor(check: () => Promise<boolean>, seconds: number): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

const readyz = async (gateway: RunningGateway) => {
  const response = await fetch(`${gateway.url}/readyz`);
  return {
    status: response.status,
    body: (await response.json()) as { stores: Record<string, string>; down?: string[] },
  };
};

describe('operations endpoints', () => {
  let gateway: RunningGateway;

  beforeAll(async () => {
    gateway = await startGateway(testConfig({ LOG_LEVEL: 'info' }));
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('answers /healthz', async () => {
    const response = await fetch(`${gateway.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz with every store up', async () => {
    expect(await readyz(gateway)).toEqual({
      status: 200,
      body: { ready: true, stores: { postgres: 'up', redis: 'up', falkordb: 'up', qdrant: 'up' } },
    });
  });

  it('serves Prometheus metrics with the request-duration histogram by route and status', async () => {
    await fetch(`${gateway.url}/healthz`);
    const response = await fetch(`${gateway.url}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toContain('process_resident_memory_bytes');
    expect(text).toMatch(
      /isogate_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} \d+/,
    );
  });

  it('serves the OpenAPI document and its UI', async () => {
    const json = (await (await fetch(`${gateway.url}/docs-json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(json.paths)).toEqual(
      expect.arrayContaining(['/healthz', '/readyz', '/metrics']),
    );
    expect((await fetch(`${gateway.url}/docs`)).status).toBe(200);
  });

  it('answers an unknown route with the API error shape and a request id', async () => {
    const response = await fetch(`${gateway.url}/v1/nothing-here?secret=swordfish`, {
      headers: { 'x-request-id': 'req-12345' },
    });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-request-id')).toBe('req-12345');
    expect(await response.json()).toEqual({
      error: {
        type: 'not_found_error',
        code: 'route_not_found',
        message: 'No route GET /v1/nothing-here',
      },
    });
  });

  it('replaces a request id that is not a plain token', async () => {
    const response = await fetch(`${gateway.url}/healthz`, {
      headers: { 'x-request-id': 'a b\u00e9' },
    });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('logs requests as structured JSON without bodies, headers or query strings', async () => {
    await fetch(`${gateway.url}/v1/whatever?email=jane@example.com`, {
      method: 'POST',
      headers: { authorization: 'Bearer canary-token-value', 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'canary-body-value' }),
    });
    await new Promise((r) => setTimeout(r, 50));
    const lines = gateway.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.some((l) => typeof l.reqId === 'string')).toBe(true);
    const all = gateway.logs.join('');
    for (const secret of ['canary-token-value', 'canary-body-value', 'jane@example.com']) {
      expect(all).not.toContain(secret);
    }
  });
});

describe('readiness follows the stores', () => {
  const stores = [
    { store: 'postgres', variable: 'DATABASE_URL', url: () => requireTestEnv('TEST_DATABASE_URL') },
    { store: 'redis', variable: 'REDIS_URL', url: () => requireTestEnv('REDIS_URL') },
    { store: 'falkordb', variable: 'FALKORDB_URL', url: () => requireTestEnv('FALKORDB_URL') },
    { store: 'qdrant', variable: 'QDRANT_URL', url: () => requireTestEnv('QDRANT_URL') },
  ] as const;

  it.each(stores)(
    'turns 503 naming $store when it stops, and 200 when it is back',
    async ({ store, variable, url }) => {
      const target = new URL(url());
      const proxy = await TcpProxy.start(target.hostname, Number(target.port));
      const gateway = await startGateway(testConfig({ [variable]: proxy.rewrite(url()) }));
      try {
        expect(await readyz(gateway)).toMatchObject({ status: 200, body: { ready: true } });

        proxy.cut();
        const down = await readyz(gateway);
        expect(down.status).toBe(503);
        expect(down.body.down).toEqual([store]);
        expect(down.body.stores[store]).toBe('down');

        proxy.restore();
        expect(await waitFor(async () => (await readyz(gateway)).status === 200, 10)).toBe(true);
      } finally {
        await gateway.close();
        await proxy.close();
      }
    },
  );
});
