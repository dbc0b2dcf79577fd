import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { tenantNames } from '@isogate/isolation';
import { api } from './support/api.js';
import { freshId } from './support/db.js';
import { testConfig } from './support/env.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';
import { llmEnv, startOpenAiServer, type OpenAiServer } from './support/openai-server.js';
import { storeKit, type StoreKit } from './support/stores.js';

interface Passage {
  document_id: string;
  chunk_index: number;
  page?: number;
  section?: string;
  text: string;
}

// Three pages (form feeds) and a heading path; each page names its own marker word.
const REPORT = [
  'Cover of the quarterly review, first page.',
  '\f',
  '# Findings',
  '## Cardiology',
  'The zephyrine marker appears on the second page only.',
  '\f',
  'The quillwort marker continues the section on page three.',
].join('\n');

describe('positions: page and section in retrieval and citations', () => {
  let idp: TestIdentityProvider;
  let llm: OpenAiServer;
  let gateway: RunningGateway;
  let kit: StoreKit;
  let operator: string;
  const msp = freshId('msp');
  const tenant = freshId('pos');
  let admin: string;
  let user: string;

  const call = (token: string, method: string, path: string, body?: unknown) =>
    api(gateway.url, token, method, path, body);
  const best = async (query: string): Promise<Passage | undefined> => {
    const answer = await call(user, 'POST', '/v1/retrieve', { query, top_k: 1 });
    expect(answer.status).toBe(200);
    return (answer.body as { results: Passage[] }).results[0];
  };

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    llm = await startOpenAiServer({ answer: () => 'It is on the second page [1].' });
    gateway = await startGateway(testConfig({ ...idp.env, ...llmEnv(llm.url) }));
    kit = storeKit();
    operator = await idp.token({ msp_id: msp, roles: ['operator'] });
    expect((await call(operator, 'POST', '/v1/tenants', { id: tenant, name: tenant })).status).toBe(
      201,
    );
    admin = await idp.token({ tenant_id: tenant, roles: ['admin'] });
    user = await idp.token({ tenant_id: tenant, roles: ['user'] });
    const written = await call(admin, 'POST', '/v1/documents', {
      id: 'review',
      title: 'Quarterly review',
      text: REPORT,
    });
    expect(written.status).toBe(201);
    const plain = await call(admin, 'POST', '/v1/documents', {
      id: 'memo',
      title: 'Memo',
      text: 'A memo about the larkspur marker, without pages or headings.',
    });
    expect(plain.status).toBe(201);
  });
  afterAll(async () => {
    await call(operator, 'DELETE', `/v1/tenants/${tenant}`);
    await kit.close();
    await gateway.close();
    await llm.close();
    await idp.close();
  });

  it('gives each passage its page and heading path, and none to a text without them', async () => {
    expect(await best('zephyrine marker')).toMatchObject({
      document_id: 'review',
      page: 2,
      section: 'Findings > Cardiology',
    });
    expect(await best('quillwort marker')).toMatchObject({
      document_id: 'review',
      page: 3,
      section: 'Findings > Cardiology',
    });
    expect(await best('cover quarterly')).toMatchObject({ document_id: 'review', page: 1 });
    expect(await best('cover quarterly')).not.toHaveProperty('section');
    const memo = await best('larkspur marker');
    expect(memo?.document_id).toBe('memo');
    expect(memo).not.toHaveProperty('page');
    expect(memo).not.toHaveProperty('section');
  });

  it('keeps the heading path sealed in the vector store; the page is a plain number', async () => {
    const { points } = await kit.qdrant.client.scroll(tenantNames(tenant).collection, {
      limit: 100,
      with_payload: true,
    });
    const review = points.filter((p) => p.payload?.document_id === 'review');
    expect(review.map((p) => p.payload?.page).sort()).toEqual([1, 2, 3]);
    expect(review.filter((p) => typeof p.payload?.section_enc === 'string')).toHaveLength(2);
    expect(JSON.stringify(points)).not.toContain('Cardiology');
  });

  it('carries page and section to the model and into the citations', async () => {
    const answer = await call(user, 'POST', '/v1/chat/completions', {
      model: 'test-chat',
      messages: [{ role: 'user', content: 'Where is the zephyrine marker?' }],
      retrieval: { top_k: 1 },
    });
    expect(answer.status).toBe(200);
    const body = answer.body as { citations: Record<string, unknown>[] };
    expect(body.citations).toEqual([
      {
        document_id: 'review',
        chunk_index: 1,
        title: 'Quarterly review',
        page: 2,
        section: 'Findings > Cardiology',
      },
    ]);
    const sent = JSON.stringify(llm.requests.at(-1)?.body);
    expect(sent).toContain('page=\\"2\\" section=\\"Findings &gt; Cardiology\\"');
  });
});
