import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { tenantNames } from '@isogate/isolation';
import { api } from './support/api.js';
import { freshId, testPool } from './support/db.js';
import { testConfig } from './support/env.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';
import { storeKit, type StoreKit } from './support/stores.js';
import { TcpProxy } from './support/tcp-proxy.js';

interface Result {
  document_id: string;
  chunk_index: number;
  title: string;
  text: string;
  score: number;
}

const PASSAGES = {
  heart:
    'Aortic stenosis narrows the valve between the left ventricle and the aorta. Transcatheter valve replacement is now common for elderly patients.',
  lungs:
    'Chronic obstructive pulmonary disease limits airflow. Spirometry measures the forced expiratory volume in one second.',
  kidney:
    'Glomerular filtration rate estimates kidney function from serum creatinine, age and sex.',
};

describe('documents and retrieval', () => {
  let idp: TestIdentityProvider;
  let gateway: RunningGateway;
  let kit: StoreKit;
  let operator: string;
  const msp = freshId('msp');
  const tenants: string[] = [];
  const owner = testPool('superuser');

  const call = (token: string, method: string, path: string, body?: unknown) =>
    api(gateway.url, token, method, path, body);
  const retrieve = async (token: string, body: Record<string, unknown>) =>
    (await call(token, 'POST', '/v1/retrieve', body)).body as { results: Result[] };
  const newTenant = async (extra: Record<string, unknown> = {}) => {
    const id = freshId('docs');
    const created = await call(operator, 'POST', '/v1/tenants', { id, name: id, ...extra });
    expect(created.status).toBe(201);
    tenants.push(id);
    return {
      id,
      admin: await idp.token({ tenant_id: id, roles: ['admin'] }),
      user: await idp.token({ tenant_id: id, roles: ['user'] }),
    };
  };
  /** Every payload of the tenant's Qdrant collection, as the store holds it (admin key). */
  const rawPayloads = async (tenantId: string) => {
    const answer = await kit.qdrant.client.scroll(tenantNames(tenantId).collection, {
      limit: 1_000,
      with_payload: true,
    });
    return answer.points.map((p) => p.payload ?? {});
  };
  /** Every node of the tenant's graph with its properties, as the store holds it. */
  const rawGraph = async (tenantId: string) => {
    const db = await kit.falkor.client();
    try {
      const reply = await db
        .selectGraph(tenantNames(tenantId).graphKey)
        .roQuery('MATCH (n) RETURN labels(n) AS labels, properties(n) AS properties');
      return JSON.stringify(reply.data ?? []);
    } catch (error) {
      if (/empty key/i.test((error as Error).message)) return '[]';
      throw error;
    }
  };
  const rawRows = async (tenantId: string) =>
    JSON.stringify(
      (await owner.query('SELECT d::text AS row FROM documents d WHERE tenant_id = $1', [tenantId]))
        .rows,
    );

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    gateway = await startGateway(testConfig(idp.env));
    kit = storeKit();
    operator = await idp.token({ msp_id: msp, roles: ['operator'] });
  });
  afterAll(async () => {
    for (const id of tenants) await call(operator, 'DELETE', `/v1/tenants/${id}`);
    await owner.end();
    await kit.close();
    await gateway.close();
    await idp.close();
  });

  it('ingests documents and retrieves a document’s own passage first', async () => {
    const t = await newTenant();
    for (const [id, text] of Object.entries(PASSAGES)) {
      const put = await call(t.admin, 'POST', '/v1/documents', { id, title: `On ${id}`, text });
      expect(put.status).toBe(201);
      expect(put.body).toMatchObject({ id, title: `On ${id}`, chunks: 1 });
      expect(put.body.tokens).toBeGreaterThan(10);
    }
    for (const [id, query] of [
      ['heart', 'transcatheter valve replacement'],
      ['lungs', 'forced expiratory volume spirometry'],
      ['kidney', 'serum creatinine filtration'],
    ] as const) {
      for (const expand_graph of [false, true]) {
        const { results } = await retrieve(t.user, { query, top_k: 3, expand_graph });
        expect(results[0]).toMatchObject({ document_id: id, chunk_index: 0, title: `On ${id}` });
        expect(results[0]?.text).toBe(PASSAGES[id]);
      }
    }
  });

  it('fills the answer from the graph when the search finds fewer passages than asked', async () => {
    const t = await newTenant();
    const texts = {
      found: 'Maria Okonkwo of Lagos General Hospital measured spirometry in asthma patients.',
      linked: 'Maria Okonkwo of Lagos General Hospital later reported on dialysis outcomes.',
      unrelated: 'Serum creatinine tracks glomerular filtration in chronic kidney disease.',
    };
    for (const [id, text] of Object.entries(texts)) {
      expect((await call(t.admin, 'POST', '/v1/documents', { id, text })).status).toBe(201);
    }
    const ids = async (expand_graph: boolean) =>
      (await retrieve(t.user, { query: 'spirometry', top_k: 5, expand_graph })).results.map(
        (r) => r.document_id,
      );
    // Only one passage holds the word; the graph adds the one that shares its entities.
    expect(await ids(true)).toEqual(['found', 'linked']);
    // Control: without the graph, the search alone answers.
    expect(await ids(false)).toEqual(['found']);
    // A passage reached through the graph is shown at its current version only.
    const replaced = 'Maria Okonkwo of Lagos General Hospital retired in 2020.';
    expect(
      (await call(t.admin, 'POST', '/v1/documents', { id: 'linked', text: replaced })).status,
    ).toBe(201);
    const after = await retrieve(t.user, { query: 'spirometry', top_k: 5 });
    expect(after.results.map((r) => [r.document_id, r.text])).toEqual([
      ['found', texts.found],
      ['linked', replaced],
    ]);
  });

  it('matches hyphenated compounds and Greek letter symbols however they are spelt', async () => {
    const t = await newTenant();
    const texts = {
      onco: 'Mutant K-Ras and TNF-α signalling raise the birth-weight adjusted risk.',
      other: PASSAGES.lungs,
    };
    for (const [id, text] of Object.entries(texts)) {
      expect((await call(t.admin, 'POST', '/v1/documents', { id, text })).status).toBe(201);
    }
    for (const query of ['KRAS', 'TNFalpha', 'tnf-alpha', 'TNFα', 'birthweight']) {
      const { results } = await retrieve(t.user, { query, top_k: 5 });
      expect({ query, ids: results.map((r) => r.document_id) }).toEqual({ query, ids: ['onco'] });
      // The variants exist for the index only: the passage comes back as it was written.
      expect(results[0]?.text).toBe(texts.onco);
    }
    // Control: words of neither document find nothing.
    expect((await retrieve(t.user, { query: 'NRAS interferon' })).results).toEqual([]);
  });

  it('applies the PII rules before anything is stored; pseudonyms are per tenant', async () => {
    const a = await newTenant({ pii: 'pseudonymize', pii_patterns: ['MRN-\\d{6}'] });
    const b = await newTenant({ pii: 'pseudonymize' });
    const raw = ['jane.roe@clinic.example', '(555) 201-3344', '123-45-6789', '4111 1111 1111 1111'];
    const text = `Patient MRN-004211 wrote from ${raw[0]}, phone ${raw[1]}, SSN ${raw[2]}, card ${raw[3]}.`;
    for (const t of [a, b]) {
      expect((await call(t.admin, 'POST', '/v1/documents', { id: 'p1', text })).status).toBe(201);
      const again = { id: 'p2', text: `Follow-up for ${raw[0]}` };
      expect((await call(t.admin, 'POST', '/v1/documents', again)).status).toBe(201);
    }
    const stored = async (token: string, id: string) =>
      String((await call(token, 'GET', `/v1/documents/${id}`)).body.text);
    const token = (text: string) => /\[EMAIL_[0-9a-f]{12}\]/.exec(text)?.[0];
    const aText = await stored(a.user, 'p1');
    for (const value of [...raw, 'MRN-004211']) expect(aText).not.toContain(value);
    expect(aText).toMatch(/\[ID_[0-9a-f]{12}\]/);
    expect(token(aText)).toBeDefined();
    expect(token(await stored(a.user, 'p2'))).toBe(token(aText));
    expect(token(await stored(b.user, 'p1'))).not.toBe(token(aText));
    const everything = [
      JSON.stringify(await rawPayloads(a.id)),
      await rawGraph(a.id),
      await rawRows(a.id),
    ].join('\n');
    for (const value of [...raw, 'jane.roe', '4111', 'MRN-004211']) {
      expect(everything).not.toContain(value);
    }
  });

  it('stores text and titles encrypted: no plaintext of a canary in PostgreSQL or Qdrant', async () => {
    const t = await newTenant();
    const canary = 'the quixotic heron sings at midnight';
    const put = await call(t.admin, 'POST', '/v1/documents', {
      id: 'c1',
      title: `Title ${canary}`,
      text: `Body: ${canary}. ${PASSAGES.heart}`,
    });
    expect(put.status).toBe(201);
    // Control: the gateway reads it back.
    expect((await call(t.user, 'GET', '/v1/documents/c1')).body.title).toBe(`Title ${canary}`);
    const payloads = await rawPayloads(t.id);
    expect(payloads).toHaveLength(1);
    expect(JSON.stringify(payloads)).not.toContain('heron');
    expect(await rawRows(t.id)).not.toContain('heron');
    expect(await rawRows(t.id)).toContain('c1');
    expect(await rawGraph(t.id)).not.toContain('heron');
  });

  it('replaces a document without leaving old chunks, and deletes it from every store', async () => {
    const t = await newTenant();
    const long = Array.from({ length: 200 }, (_, i) => `Sentence ${i} about cardiology.`).join(' ');
    expect((await call(t.admin, 'POST', '/v1/documents', { id: 'r', text: long })).status).toBe(
      201,
    );
    const first = await kit.qdrant.client.count(tenantNames(t.id).collection, { exact: true });
    expect(first.count).toBeGreaterThan(1);
    const replaced = await call(t.admin, 'POST', '/v1/documents', {
      id: 'r',
      text: PASSAGES.kidney,
    });
    expect(replaced.body).toMatchObject({ id: 'r', chunks: 1 });
    const after = await rawPayloads(t.id);
    expect(after).toHaveLength(1);
    expect(await rawGraph(t.id)).toMatch(/chunk_index/);
    const { results } = await retrieve(t.user, { query: 'cardiology sentence', top_k: 10 });
    expect(results.every((r) => r.text === PASSAGES.kidney)).toBe(true);

    const deleted = await call(t.admin, 'DELETE', '/v1/documents/r');
    expect(deleted).toMatchObject({ status: 200, body: { id: 'r', deleted: true } });
    expect(await rawPayloads(t.id)).toHaveLength(0);
    expect(await rawGraph(t.id)).not.toMatch(/Chunk|Document/);
    expect(await rawRows(t.id)).toBe('[]');
    expect((await call(t.user, 'GET', '/v1/documents/r')).status).toBe(404);
    expect((await call(t.admin, 'DELETE', '/v1/documents/r')).status).toBe(404);
  });

  it('keeps identical text apart: each tenant retrieves only its own chunks', async () => {
    const a = await newTenant();
    const b = await newTenant();
    const text = 'Identical canary passage on hypertrophic cardiomyopathy screening.';
    for (const t of [a, b]) {
      const body = { id: 'same', title: `Owned by ${t.id}`, text, metadata: { owner: t.id } };
      expect((await call(t.admin, 'POST', '/v1/documents', body)).status).toBe(201);
    }
    for (const [self, other] of [
      [a, b],
      [b, a],
    ] as const) {
      const own = await retrieve(self.user, { query: 'cardiomyopathy screening', top_k: 10 });
      expect(own.results).toHaveLength(1);
      expect(own.results[0]?.title).toBe(`Owned by ${self.id}`);
      const hostile = [
        { metadata: { owner: other.id } },
        { metadata: { tenant_id: other.id } },
        { metadata: { owner: [self.id, other.id] } },
      ];
      for (const filter of hostile) {
        const { results } = await retrieve(self.user, { query: 'cardiomyopathy', filter });
        expect(results.every((r) => r.title === `Owned by ${self.id}`)).toBe(true);
      }
      // Control: a benign filter finds the tenant's own document.
      const mine = await retrieve(self.user, {
        query: 'cardiomyopathy',
        filter: { metadata: { owner: self.id } },
      });
      expect(mine.results).toHaveLength(1);
      // Qdrant filter syntax is not part of the API at all.
      for (const filter of [{ should: [{ key: 'tenant_id' }] }, { must_not: [] }]) {
        const refused = await call(self.user, 'POST', '/v1/retrieve', { query: 'x', filter });
        expect(refused.status).toBe(400);
      }
      expect((await call(self.user, 'GET', '/v1/documents/same')).status).toBe(200);
    }
  });

  it('keeps metadata values out of the stores: filters match keyed blind indexes, per tenant', async () => {
    const a = await newTenant();
    const b = await newTenant();
    const department = `oncology-${freshId('dept')}`;
    const elsewhere = `cardiology-${freshId('dept')}`;
    const metadata = { department, floor: 3, audited: true };
    for (const t of [a, b]) {
      const body = { id: 'm1', title: 'Ward notes', text: PASSAGES.heart, metadata };
      expect((await call(t.admin, 'POST', '/v1/documents', body)).status).toBe(201);
    }
    // Control: the owning tenant reads its metadata back in clear.
    expect((await call(a.user, 'GET', '/v1/documents/m1')).body.metadata).toEqual(metadata);
    const listed = (await call(a.user, 'GET', '/v1/documents')).body as {
      data: { metadata: unknown }[];
    };
    expect(listed.data.map((d) => d.metadata)).toEqual([metadata]);

    // Neither Qdrant's payloads nor PostgreSQL's row holds a metadata value.
    const payloads = await rawPayloads(a.id);
    expect(payloads).toHaveLength(1);
    expect(JSON.stringify(payloads)).not.toContain(department);
    expect(JSON.stringify(payloads)).not.toContain('oncology');
    expect(await rawRows(a.id)).not.toContain('oncology');
    expect(await rawRows(a.id)).toContain('m1');

    // Filters still work on the blind indexes: the value finds the document, another does not.
    const found = async (filter: Record<string, unknown>) =>
      (await retrieve(a.user, { query: 'valve aorta', filter: { metadata: filter } })).results.map(
        (r) => r.document_id,
      );
    expect(await found({ department })).toEqual(['m1']);
    expect(await found({ department: elsewhere })).toEqual([]);
    expect(await found({ department: [elsewhere, department] })).toEqual(['m1']);
    expect(await found({ department, floor: 3, audited: true })).toEqual(['m1']);
    // Type-tagged: the number 3 is not the string "3", true is not "true".
    expect(await found({ floor: '3' })).toEqual([]);
    expect(await found({ audited: 'true' })).toEqual([]);
    // A value under another key is another index.
    expect(await found({ ward: department })).toEqual([]);

    // Keyed per tenant: the same metadata gives another tenant other index values.
    const indexes = async (tenantId: string) =>
      (await rawPayloads(tenantId)).flatMap((p) => p.metadata_index as string[]);
    const ofA = await indexes(a.id);
    const ofB = await indexes(b.id);
    expect(ofA).toHaveLength(3);
    expect(ofB).toHaveLength(3);
    expect(ofA.filter((value) => ofB.includes(value))).toEqual([]);
    // Control: tenant B's own filter finds its own document.
    const theirs = await retrieve(b.user, { query: 'valve', filter: { metadata: { department } } });
    expect(theirs.results.map((r) => r.document_id)).toEqual(['m1']);
  });

  it('reads the clear metadata of a row written before metadata was sealed, and seals it on rewrite', async () => {
    const t = await newTenant();
    const body = { id: 'old', text: PASSAGES.kidney, metadata: { ward: 'renal' } };
    expect((await call(t.admin, 'POST', '/v1/documents', body)).status).toBe(201);
    // The row as the previous release wrote it: clear metadata, nothing sealed.
    await owner.query(
      `UPDATE documents SET metadata = '{"ward": "renal"}', metadata_enc = NULL WHERE tenant_id = $1`,
      [t.id],
    );
    expect(await rawRows(t.id)).toContain('renal');
    expect((await call(t.user, 'GET', '/v1/documents/old')).body.metadata).toEqual({
      ward: 'renal',
    });
    expect((await call(t.admin, 'POST', '/v1/documents', body)).status).toBe(201);
    expect(await rawRows(t.id)).not.toContain('renal');
    expect((await call(t.user, 'GET', '/v1/documents/old')).body.metadata).toEqual({
      ward: 'renal',
    });
  });

  it('lists with a cursor bound to the tenant', async () => {
    const a = await newTenant();
    const b = await newTenant();
    for (let i = 0; i < 5; i++) {
      await call(a.admin, 'POST', '/v1/documents', { id: `d${i}`, title: `T${i}`, text: `x ${i}` });
    }
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
      const page = await call(a.user, 'GET', `/v1/documents?limit=2${query}`);
      expect(page.status).toBe(200);
      const body = page.body as { data: { id: string }[]; next_cursor: string | null };
      ids.push(...body.data.map((d) => d.id));
      cursor = body.next_cursor;
      if (cursor !== null) {
        const stolen = await call(
          b.user,
          'GET',
          `/v1/documents?cursor=${encodeURIComponent(cursor)}`,
        );
        expect(stolen.status).toBe(400);
      }
    } while (cursor !== null);
    expect(ids).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);
    expect((await call(b.user, 'GET', '/v1/documents')).body).toEqual({
      data: [],
      next_cursor: null,
    });
    expect((await call(b.user, 'GET', '/v1/documents/d0')).status).toBe(404);
    expect((await call(b.admin, 'DELETE', '/v1/documents/d0')).status).toBe(404);
    expect((await call(a.user, 'GET', '/v1/documents/d0')).status).toBe(200);
  });

  it('refuses bad input and enforces the tenant’s document limits', async () => {
    const t = await newTenant({ quotas: { max_documents: 2, max_document_bytes: 100 } });
    const post = (body: unknown) => call(t.admin, 'POST', '/v1/documents', body);
    expect((await post({ id: 'a', text: 'x'.repeat(101) })).body).toMatchObject({
      error: { code: 'document_too_large' },
    });
    expect((await post({ id: 'a', text: 'x'.repeat(101) })).status).toBe(413);
    expect((await post({ id: 'a', text: 'first' })).status).toBe(201);
    expect((await post({ id: 'b', text: 'second' })).status).toBe(201);
    const third = await post({ id: 'c', text: 'third' });
    expect(third).toMatchObject({
      status: 409,
      body: { error: { code: 'document_limit_reached' } },
    });
    expect((await post({ id: 'a', text: 'first, replaced' })).status).toBe(201);
    for (const bad of [
      { text: '   ' },
      { text: 'ok', tenant_id: 'other' },
      { text: 'ok', id: '../etc/passwd' },
      { text: 'ok', metadata: { nested: { a: 1 } } },
      { text: '\ud800 lone surrogate' },
      { title: 'no text' },
    ]) {
      const answer = await post(bad);
      expect([answer.status, answer.body.error]).toMatchObject([
        400,
        { type: 'invalid_request_error' },
      ]);
    }
    const notUtf8 = await fetch(`${gateway.url}/v1/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.admin}`, 'content-type': 'application/json' },
      body: Buffer.concat([Buffer.from('{"text":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]),
    });
    expect(notUtf8.status).toBe(400);
    expect(((await notUtf8.json()) as { error: { message: string } }).error.message).toMatch(
      /UTF-8/,
    );
    expect((await post('{"text": "unterminated')).status).toBe(400);
    const list = (await call(t.user, 'GET', '/v1/documents')).body as { data: { id: string }[] };
    expect(list.data.map((d) => d.id)).toEqual(['a', 'b']);
    // Users read; only admins write.
    expect((await call(t.user, 'POST', '/v1/documents', { text: 'x' })).status).toBe(403);
  });

  it('leaves the old document whole when the graph fails part-way through a replace', async () => {
    const target = new URL(testConfig().graph.url);
    const proxy = await TcpProxy.start(target.hostname, Number(target.port));
    const flaky = await startGateway(
      testConfig({ ...idp.env, FALKORDB_URL: proxy.rewrite(testConfig().graph.url) }),
    );
    try {
      const t = await newTenant();
      const put = (text: string) =>
        api(flaky.url, t.admin, 'POST', '/v1/documents', { id: 'f', title: 'F', text });
      expect((await put(PASSAGES.heart)).status).toBe(201);
      proxy.cut();
      const failed = await put(PASSAGES.lungs);
      expect(failed.status).toBe(503);
      expect(JSON.stringify(failed.body)).not.toMatch(/falkor|redis|graph/i);
      proxy.restore();
      const read = await api(flaky.url, t.user, 'GET', '/v1/documents/f');
      expect(read.body.text).toBe(PASSAGES.heart);
      const found = (
        await api(flaky.url, t.user, 'POST', '/v1/retrieve', {
          query: 'spirometry valve aorta',
          top_k: 10,
        })
      ).body as { results: Result[] };
      expect(found.results.map((r) => r.text)).toEqual([PASSAGES.heart]);
      // The retry completes the replace.
      expect((await put(PASSAGES.lungs)).status).toBe(201);
      expect((await api(flaky.url, t.user, 'GET', '/v1/documents/f')).body.text).toBe(
        PASSAGES.lungs,
      );
      expect(await rawPayloads(t.id)).toHaveLength(1);
    } finally {
      await flaky.close();
      await proxy.close();
    }
  });
});
