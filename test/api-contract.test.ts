import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createGateway } from '../apps/gateway/src/gateway.js';
import { testConfig } from './support/env.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A route as `METHOD /path/{param}`, whatever the parameter is called. */
const routeKey = (method: string, path: string) =>
  `${method.toUpperCase()} ${path.replace(/\{[^}]+\}|:[A-Za-z_]+/g, '{}')}`;

/** Every route the contract names: `` `GET /v1/tenants/{id}` `` in code spans, query left off. */
async function contractRoutes(): Promise<Set<string>> {
  const text = await readFile(new URL('../docs/API.md', import.meta.url), 'utf8');
  const routes = new Set<string>();
  for (const match of text.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/[^`?\s]*)/g)) {
    routes.add(routeKey(match[1] ?? '', match[2] ?? ''));
  }
  return routes;
}

/** The routes the served OpenAPI document describes. */
async function openApiRoutes(app: NestFastifyApplication): Promise<Set<string>> {
  const response = await app.getHttpAdapter().getInstance().inject('/docs-json');
  const document = response.json<{ paths: Record<string, Record<string, unknown>> }>();
  const routes = new Set<string>();
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const method of Object.keys(operations)) routes.add(routeKey(method, path));
  }
  return routes;
}

/** Whether the gateway's router answers `key` with a handler of its own. */
function served(app: NestFastifyApplication, key: string): boolean {
  const [method, path] = key.split(' ') as [Method, string];
  const url = path.replace(/\{\}/g, ':id');
  return app.getHttpAdapter().getInstance().hasRoute({ method, url });
}

describe('docs/API.md, the OpenAPI document and the router list the same routes', () => {
  let app: NestFastifyApplication;
  beforeAll(async () => {
    app = await createGateway(testConfig());
  });
  afterAll(async () => {
    await app.close();
  });

  it('names every route of the OpenAPI document, and nothing it does not serve', async () => {
    const contract = await contractRoutes();
    const openApi = await openApiRoutes(app);
    // The documentation routes serve the document itself, so it does not describe them.
    const documentation = new Set(['GET /docs', 'GET /docs-json']);
    expect([...contract].filter((r) => !documentation.has(r)).sort()).toEqual([...openApi].sort());
    // Control: the comparison saw the API, not two empty lists.
    expect(openApi).toContain('POST /v1/chat/completions');
    expect(openApi).toContain('DELETE /v1/tenants/{}');
    expect(openApi.size).toBeGreaterThan(20);
  });

  it('names only routes the gateway really answers', async () => {
    const contract = await contractRoutes();
    expect([...contract].filter((route) => !served(app, route))).toEqual([]);
    // Control: a route that is not there is reported as not served.
    expect(served(app, 'DELETE /v1/models')).toBe(false);
    expect(served(app, 'GET /v1/models')).toBe(true);
  });
});
