import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { api } from './support/api.js';
import { chainEvents } from './support/audit.js';
import { createCanaryTenant, type CanaryTenant } from './support/canary-tenant.js';
import { freshId, testPool } from './support/db.js';
import { testConfig } from './support/env.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';
import {
  startOpenAiServer,
  type OpenAiServer,
  type RecordedRequest,
} from './support/openai-server.js';

const DIMENSIONS = 16;
const API_VERSION = '2024-10-21';
// Each resource takes its own key only: a key sent to the wrong one is refused with a 401.
const CHAT_KEY = 'azure-chat-test-key';
const EMBED_KEY = 'azure-embed-test-key';

/** A catalog whose chat and embeddings models are each served by one Azure deployment. */
function catalog(chatUrl: string, embedUrl: string): string {
  const attributes = { region: 'us-east', baa: true, zero_retention: true };
  return JSON.stringify({
    upstreams: [
      {
        id: 'azure-east-chat',
        kind: 'azure-openai',
        purpose: 'chat',
        base_url: chatUrl,
        api_key_env: 'AZURE_EAST_CHAT_KEY',
        model: 'gpt-4o-mini',
        deployment: 'chat-prod',
        api_version: API_VERSION,
        context_tokens: 8192,
        timeout_ms: 2_000,
        ...attributes,
      },
      {
        id: 'azure-east-embed',
        kind: 'azure-openai',
        purpose: 'embeddings',
        base_url: embedUrl,
        api_key_env: 'AZURE_EAST_EMBED_KEY',
        model: 'text-embedding-3-small',
        deployment: 'embed-prod',
        api_version: API_VERSION,
        dimensions: DIMENSIONS,
        ...attributes,
      },
    ],
    models: [
      { name: 'chat', purpose: 'chat', upstreams: ['azure-east-chat'] },
      { name: 'embed', purpose: 'embeddings', upstreams: ['azure-east-embed'] },
    ],
  });
}

/**
 * The gateway with Azure OpenAI upstreams (kind `azure-openai`): every request reaches its
 * deployment's path with the catalog's API version and the upstream's key in `api-key`, and
 * the audit trail names the Azure upstream that answered.
 */
describe('routing to Azure OpenAI deployments', () => {
  let idp: TestIdentityProvider;
  let chatServer: OpenAiServer;
  let embedServer: OpenAiServer;
  let gateway: RunningGateway;
  let operator: string;
  let dir: string;
  let tenant: CanaryTenant;
  const owner = testPool('owner');
  const msp = freshId('msp');

  /** The requests `server` received whose body carries `text`. */
  const carrying = (server: OpenAiServer, text: string): RecordedRequest[] =>
    server.requests.filter((request) => JSON.stringify(request.body).includes(text));
  const routeOf = async (requestId: string | null) =>
    (await chainEvents(owner, { tenantId: tenant.id }, requestId ?? '')).map((row) => ({
      action: row.action,
      route: row.details.route,
    }));

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    chatServer = await startOpenAiServer({ dimensions: DIMENSIONS, apiKey: CHAT_KEY });
    embedServer = await startOpenAiServer({ dimensions: DIMENSIONS, apiKey: EMBED_KEY });
    dir = mkdtempSync(join(tmpdir(), 'isogate-azure-'));
    const file = join(dir, 'models.json');
    writeFileSync(file, catalog(chatServer.azureUrl, embedServer.azureUrl));
    gateway = await startGateway(
      testConfig({
        ...idp.env,
        MODELS_FILE: file,
        EMBEDDINGS_DIMENSIONS: String(DIMENSIONS),
        AZURE_EAST_CHAT_KEY: CHAT_KEY,
        AZURE_EAST_EMBED_KEY: EMBED_KEY,
      }),
    );
    operator = await idp.token({ msp_id: msp, roles: ['operator'] });
    tenant = await createCanaryTenant(gateway.url, idp, operator, {
      prefix: 'azure',
      tenant: { pii: 'off', policy: { data_class: 'phi' } },
    });
  });
  afterAll(async () => {
    await api(gateway.url, operator, 'DELETE', `/v1/tenants/${tenant.id}`);
    await owner.end();
    await gateway.close();
    await chatServer.close();
    await embedServer.close();
    await idp.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('embeds an ingested document through the Azure embeddings deployment', async () => {
    const embedded = carrying(embedServer, tenant.canary);
    expect(embedded.length).toBeGreaterThan(0);
    for (const request of embedded) {
      expect(request).toMatchObject({
        method: 'POST',
        path: '/openai/deployments/embed-prod/embeddings',
        deployment: 'embed-prod',
        apiVersion: API_VERSION,
        apiKey: EMBED_KEY,
        body: { model: 'text-embedding-3-small' },
      });
      // The key goes in `api-key` alone, not also as a bearer token.
      expect(request.headers.authorization).toBeUndefined();
    }
    expect(carrying(chatServer, tenant.canary)).toEqual([]);
    const [ingested] = await chainEvents(owner, { tenantId: tenant.id }, tenant.documentRequestId);
    expect(ingested?.details).toMatchObject({
      embeddings_route: {
        upstream: 'azure-east-embed',
        upstream_model: 'text-embedding-3-small',
        attempts: [{ upstream: 'azure-east-embed', outcome: 'ok' }],
      },
    });
  });

  it('answers a chat request through the Azure chat deployment and audits its route', async () => {
    const question = `Which valve, ${randomUUID()}?`;
    const answered = await api(gateway.url, tenant.user, 'POST', '/v1/chat/completions', {
      model: 'chat',
      messages: [{ role: 'user', content: question }],
    });

    expect(answered.status).toBe(200);
    const [request, ...more] = carrying(chatServer, question);
    expect(more).toEqual([]);
    expect(request).toMatchObject({
      method: 'POST',
      path: '/openai/deployments/chat-prod/chat/completions',
      deployment: 'chat-prod',
      apiVersion: API_VERSION,
      apiKey: CHAT_KEY,
      body: { model: 'gpt-4o-mini' },
    });
    expect(request?.headers.authorization).toBeUndefined();
    expect((request?.body as { stream?: boolean }).stream).not.toBe(true);
    // The answer is the one the deployment gave (the test server echoes the prompt).
    const { choices } = answered.body as { choices: { message: { content: string } }[] };
    expect(choices[0]?.message.content).toContain('echo:');
    expect(await routeOf(answered.headers.get('x-request-id'))).toEqual([
      {
        action: 'POST /v1/chat/completions',
        route: {
          upstream: 'azure-east-chat',
          upstream_model: 'gpt-4o-mini',
          policy_version: expect.stringMatching(/^[0-9a-f]{16}$/u),
          attempts: [{ upstream: 'azure-east-chat', outcome: 'ok' }],
        },
      },
    ]);
  });

  it('streams a chat answer from the Azure chat deployment and audits its route', async () => {
    const question = `Streamed, ${randomUUID()}?`;
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: tenant.user, maxRetries: 0 });
    const stream = await client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: question }], stream: true })
      .withResponse();
    let text = '';
    for await (const chunk of stream.data) text += chunk.choices[0]?.delta.content ?? '';

    expect(text).toContain('echo:');
    const [request, ...more] = carrying(chatServer, question);
    expect(more).toEqual([]);
    expect(request).toMatchObject({
      path: '/openai/deployments/chat-prod/chat/completions',
      deployment: 'chat-prod',
      apiVersion: API_VERSION,
      apiKey: CHAT_KEY,
      body: { model: 'gpt-4o-mini', stream: true },
    });
    const rows = await routeOf(stream.response.headers.get('x-request-id'));
    expect(rows.map((row) => row.action)).toEqual(['chat.started', 'chat.completed']);
    expect(rows[1]?.route).toMatchObject({
      upstream: 'azure-east-chat',
      attempts: [{ upstream: 'azure-east-chat', outcome: 'ok' }],
    });
  });
});
