// bench/ingest: documents per second into one tenant through the API, against the floor of a
// direct Qdrant batch upsert of the same points measured in the same run. The SciFact corpus
// (read from the shared eval data, never copied), PII `redact`, BM25 only (no embeddings
// endpoint), the gateway in this process. Arms:
// - one document per request, BENCH_INGEST_INFLIGHT (8) requests in flight;
// - the batch route, BENCH_INGEST_BATCH (100) documents per request, 2 in flight;
// - Qdrant direct: the same number of points, 128 per upsert, 2 in flight (the floor).
// BENCH_INGEST_DOCS limits how many documents each arm writes (default: all 5,183).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { QdrantAdmin } from '@isogate/isolation';
import { createGateway } from '../apps/gateway/src/gateway.js';
import { benchConfig, benchSigner } from './support.js';

const INFLIGHT = Number(process.env.BENCH_INGEST_INFLIGHT ?? 8);
const BATCH = Number(process.env.BENCH_INGEST_BATCH ?? 100);
const LIMIT = Number(process.env.BENCH_INGEST_DOCS ?? Number.POSITIVE_INFINITY);
const CORPUS = resolve(process.env.EVAL_DATA_DIR ?? '../shared/eval-data', 'scifact/corpus.jsonl');

interface Doc {
  readonly id: string;
  readonly title: string;
  readonly text: string;
}

const docs: Doc[] = readFileSync(CORPUS, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as { _id: string; title: string; text: string })
  .map((d) => ({ id: d._id, title: d.title, text: d.text.trim() === '' ? d.title : d.text }))
  .slice(0, LIMIT);

const config = benchConfig();
const app = await createGateway(config);
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.getHttpServer().address() as { port: number };
const base = `http://127.0.0.1:${address.port}`;
const sign = benchSigner('bench-ingest');
const operator = await sign({ msp_id: 'bench-msp', roles: ['operator'] });

async function call(token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return JSON.parse(text) as unknown;
}

async function newTenant(label: string): Promise<{ id: string; admin: string }> {
  const id = `bench-ingest-${label}-${Date.now().toString(36)}`;
  await call(operator, 'POST', '/v1/tenants', {
    id,
    name: id,
    pii: 'redact',
    quotas: { max_documents: 100_000, requests_per_minute: 1_000_000 },
  });
  return { id, admin: await sign({ tenant_id: id, roles: ['admin'] }) };
}

/** Runs `work` over `items` with `inflight` at a time; answers the seconds it took. */
async function pool<T>(items: readonly T[], inflight: number, work: (item: T) => Promise<void>) {
  const start = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await work(item);
      }
    }),
  );
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const results: Record<string, { documents: number; seconds: number; per_s: number }> = {};
const record = (arm: string, seconds: number) => {
  results[arm] = { documents: docs.length, seconds, per_s: docs.length / seconds };
  console.error(
    `${arm}: ${(docs.length / seconds).toFixed(1)} documents/s (${seconds.toFixed(1)} s)`,
  );
};

// The floor: Qdrant alone, the same texts as BM25 points with a payload of the same size.
const qdrant = new QdrantAdmin({ url: config.vectors.url, apiKey: config.vectors.apiKey });
const scratch = `bench_ingest_${Date.now().toString(36)}`;
await qdrant.provisioning.createCollection(scratch, {
  vectors: {},
  sparse_vectors: { bm25: { modifier: 'idf', index: { on_disk: true } } },
});
try {
  const seconds = await pool(batches(docs, 128), 2, async (batch) => {
    await qdrant.provisioning.upsert(scratch, {
      wait: true,
      points: batch.map((d) => ({
        id: randomUUID(),
        vector: { bm25: { text: `${d.title}\n${d.text}`, model: 'qdrant/bm25' } } as never,
        payload: { document_id: d.id, text_enc: Buffer.from(d.text).toString('base64') },
      })),
    });
  });
  record('qdrant direct (floor)', seconds);
} finally {
  await qdrant.provisioning.deleteCollection(scratch);
}

const single = await newTenant('single');
try {
  record(
    `API, one document per request, ${INFLIGHT} in flight`,
    await pool(docs, INFLIGHT, async (d) => {
      await call(single.admin, 'POST', '/v1/documents', d);
    }),
  );
} finally {
  await call(operator, 'DELETE', `/v1/tenants/${single.id}`);
}

if (process.env.BENCH_INGEST_BATCH_ROUTE !== '0') {
  const batched = await newTenant('batch');
  try {
    record(
      `API batch route, ${BATCH} per request, 2 in flight`,
      await pool(batches(docs, BATCH), 2, async (batch) => {
        const answer = (await call(batched.admin, 'POST', '/v1/documents/batch', {
          documents: batch,
        })) as { data: { status: number }[] };
        const failed = answer.data.filter((item) => item.status >= 300);
        if (failed.length > 0) throw new Error(`${failed.length} documents of a batch failed`);
      }),
    );
  } finally {
    await call(operator, 'DELETE', `/v1/tenants/${batched.id}`);
  }
}

const floor = results['qdrant direct (floor)']?.per_s ?? Number.NaN;
console.log(
  JSON.stringify(
    Object.fromEntries(
      Object.entries(results).map(([arm, r]) => [
        arm,
        { ...r, per_s: Number(r.per_s.toFixed(1)), of_floor: Number((r.per_s / floor).toFixed(3)) },
      ]),
    ),
    null,
    2,
  ),
);
await app.close();
