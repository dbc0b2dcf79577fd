// Retrieval quality, ingestion throughput and retrieve latency on the BEIR collections in
// ../shared/eval-data, one fresh tenant per collection, everything through the gateway's API:
// ingestion with the bulk CLI (scripts/ingest.mjs), retrieval with POST /v1/retrieve as a
// `user` of the tenant, BM25 alone (expand_graph false) and with graph expansion. The baseline
// is plain Qdrant BM25 over the same chunks, measured in the same run.
//   npm run bench:retrieval [-- --collections scifact,cisi] [--skip-latency] [--seconds 10]
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { createGateway } from '../apps/gateway/src/gateway.js';
import { loadEnvSource } from '../apps/gateway/src/config/env-source.js';
import { PlainBm25Baseline, type Bm25Options } from './retrieval-baseline.js';
import { ingestWithCli, type IngestReport } from './retrieval-ingest.js';
import { measure, type LatencyResult } from './retrieval-latency.js';
import {
  documentRanking,
  evaluate,
  loadQrels,
  loadQueries,
  mapLimit,
  readCorpus,
  table,
  type Qrels,
} from './retrieval-metrics.js';
import { benchConfig, benchSigner, timed } from './support.js';

const ALL = ['scifact', 'cisi', 'cranfield', 'cacm'] as const;
const { values } = parseArgs({
  options: {
    collections: { type: 'string', default: ALL.join(',') },
    'skip-latency': { type: 'boolean', default: false },
    seconds: { type: 'string', default: '10' },
    data: { type: 'string', default: '../shared/eval-data' },
    pii: { type: 'string', default: 'off' },
    concurrency: { type: 'string', default: '8' },
    // An experiment: a second plain baseline with Qdrant BM25 options, e.g. '{"avg_len":80}'.
    'bm25-options': { type: 'string' },
  },
});
const names = values.collections.split(',').map((name) => name.trim());
for (const name of names)
  if (!(ALL as readonly string[]).includes(name)) throw new Error(`unknown collection ${name}`);
const dataDir = resolve(values.data);
const tunedOptions =
  values['bm25-options'] === undefined
    ? undefined
    : (JSON.parse(values['bm25-options']) as Bm25Options);
const env = loadEnvSource({ ...process.env, NODE_ENV: 'test' });
const sign = benchSigner('bench-retrieval');

/** What the run learns about one collection. */
interface CollectionRun {
  readonly name: string;
  readonly tenant: string;
  readonly userToken: string;
  readonly ingest: IngestReport;
  readonly baseline: PlainBm25Baseline;
  readonly tuned: PlainBm25Baseline | undefined;
  readonly baselineSeconds: number;
  readonly corpusIds: Set<string>;
  quality?: Record<
    'bm25' | 'graph' | 'plain' | 'tuned',
    { ndcg10: number; recall100: number; queries: number }
  >;
  foreign?: number;
}

const app = await createGateway(benchConfig());
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.getHttpServer().address();
const gatewayUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
const msp = `bench-${randomUUID().slice(0, 6)}`;
const operator = await sign({ msp_id: msp, roles: ['operator'] });
const runs: CollectionRun[] = [];
const tenants: string[] = [];
const baselines: PlainBm25Baseline[] = [];

async function gateway(method: string, path: string, token: string, body?: unknown) {
  const response = await request(`${gatewayUrl}${path}`, {
    method: method as 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    body: (text ? JSON.parse(text) : {}) as Record<string, unknown>,
  };
}

async function prepare(name: string): Promise<CollectionRun> {
  const tenant = `${msp}-${name}`;
  const created = await gateway('POST', '/v1/tenants', operator, {
    id: tenant,
    name: `retrieval bench ${name}`,
    // PII off: the gateway must index the very text the baseline indexes.
    pii: values.pii,
    quotas: {
      requests_per_minute: 1_000_000,
      max_documents: 1_000_000,
      max_document_bytes: 10_000_000,
    },
  });
  if (created.status !== 201) throw new Error(`create tenant ${tenant}: HTTP ${created.status}`);
  tenants.push(tenant);
  const corpus = `${dataDir}/${name}/corpus.jsonl`;
  process.stdout.write(`${name}: ingesting through the gateway with the CLI\n`);
  const ingest = await ingestWithCli({
    url: gatewayUrl,
    token: await sign({ tenant_id: tenant, roles: ['admin'] }),
    tenant,
    file: corpus,
    idPrefix: `${name}:`,
    concurrency: Number(values.concurrency),
    titleAsText: true,
  });
  process.stdout.write(`${name}: building the plain Qdrant BM25 baseline\n`);
  const baseline = await PlainBm25Baseline.create(
    env.QDRANT_URL as string,
    env.QDRANT_API_KEY as string,
    `bench_bm25_${msp.replace(/-/g, '_')}_${name}`,
  );
  baselines.push(baseline);
  const tuned =
    tunedOptions === undefined
      ? undefined
      : await PlainBm25Baseline.create(
          env.QDRANT_URL as string,
          env.QDRANT_API_KEY as string,
          `bench_bm25_${msp.replace(/-/g, '_')}_${name}_tuned`,
          tunedOptions,
        );
  if (tuned !== undefined) baselines.push(tuned);
  const corpusIds = new Set<string>();
  const baselineSeconds =
    (await timed(async () => {
      for await (const record of readCorpus(corpus)) {
        corpusIds.add(record.id);
        // The same transform as the CLI's --title-as-text, so both index the same chunks.
        const text = record.text.trim() === '' ? record.title : record.text;
        await baseline.add({ ...record, text }, `${name}:${record.id}`);
        await tuned?.add({ ...record, text }, `${name}:${record.id}`);
      }
      await baseline.flush();
      await tuned?.flush();
    })) / 1000;
  return {
    name,
    tenant,
    userToken: await sign({ tenant_id: tenant, roles: ['user'] }),
    ingest,
    baseline,
    tuned,
    baselineSeconds,
    corpusIds,
  };
}

async function score(run: CollectionRun): Promise<void> {
  const qrels: Qrels = await loadQrels(`${dataDir}/${run.name}/qrels/test.tsv`);
  const queries = await loadQueries(`${dataDir}/${run.name}/queries.jsonl`, new Set(qrels.keys()));
  const ids = [...queries.keys()];
  const prefix = `${run.name}:`;
  let foreign = 0;
  const own = (documentId: string) => {
    const mine =
      documentId.startsWith(prefix) && run.corpusIds.has(documentId.slice(prefix.length));
    if (!mine) foreign += 1;
    return documentId.slice(prefix.length);
  };
  const throughGateway = async (expand: boolean) => {
    const rankings = await mapLimit(ids, 4, async (id) => {
      const answer = await gateway('POST', '/v1/retrieve', run.userToken, {
        query: queries.get(id),
        top_k: 100,
        expand_graph: expand,
      });
      if (answer.status !== 200) throw new Error(`${run.name} retrieve: HTTP ${answer.status}`);
      const results = answer.body.results as { document_id: string }[];
      return documentRanking(results.map((r) => own(r.document_id)));
    });
    return evaluate(qrels, new Map(ids.map((id, i) => [id, rankings[i] ?? []])));
  };
  const bm25 = await throughGateway(false);
  const graph = await throughGateway(true);
  const direct = async (baseline: PlainBm25Baseline) => {
    const rankings = await mapLimit(ids, 4, async (id) =>
      documentRanking(
        (await baseline.search(queries.get(id) ?? '', 100)).map((d) => d.slice(prefix.length)),
      ),
    );
    return evaluate(qrels, new Map(ids.map((id, i) => [id, rankings[i] ?? []])));
  };
  const plain = await direct(run.baseline);
  const tuned =
    run.tuned === undefined
      ? { ndcg10: Number.NaN, recall100: Number.NaN, queries: 0 }
      : await direct(run.tuned);
  run.quality = { bm25, graph, plain, tuned };
  run.foreign = foreign;
}

async function latency(run: CollectionRun, seconds: number) {
  const qrels = await loadQrels(`${dataDir}/${run.name}/qrels/test.tsv`);
  const queries = await loadQueries(`${dataDir}/${run.name}/queries.jsonl`, new Set(qrels.keys()));
  const query = [...queries.values()][0] ?? 'retrieval';
  const viaGateway = {
    url: `${gatewayUrl}/v1/retrieve`,
    headers: { authorization: `Bearer ${run.userToken}` },
    body: { query, top_k: 10 },
  };
  const direct = {
    url: run.baseline.url('/points/query'),
    headers: run.baseline.headers,
    body: run.baseline.queryBody(query, 10, true),
  };
  // The same query without the graph expansion: what the graph costs, and the gateway's own
  // cost over the one Qdrant query that both make.
  const viaGatewayBm25 = { ...viaGateway, body: { ...viaGateway.body, expand_graph: false } };
  const rows: {
    connections: number;
    gateway: LatencyResult;
    bm25: LatencyResult;
    direct: LatencyResult;
  }[] = [];
  for (const connections of [1, 8]) {
    process.stdout.write(`latency: ${connections} connection(s), ${seconds} s each\n`);
    rows.push({
      connections,
      gateway: await measure(viaGateway, connections, seconds),
      bm25: await measure(viaGatewayBm25, connections, seconds),
      direct: await measure(direct, connections, seconds),
    });
  }
  return { query, rows };
}

function report(latencyRun: Awaited<ReturnType<typeof latency>> | undefined): string {
  const f3 = (n: number) => n.toFixed(3);
  const goal = (run: CollectionRun) =>
    run.name === 'scifact' ? 0.7 : (run.quality?.plain.ndcg10 ?? 0) + 0.01;
  const met = (value: number, target: number) => (value >= target ? 'yes' : 'NO');
  const out = [
    table(
      'nDCG@10 (judged test queries)',
      [
        'collection',
        'queries',
        'gateway bm25',
        'gateway +graph',
        'plain qdrant',
        ...(tunedOptions ? ['plain tuned'] : []),
        'goal',
        'bm25 met',
        '+graph met',
      ],
      runs.map((r) => {
        const q = r.quality!;
        return [
          r.name,
          String(q.bm25.queries),
          f3(q.bm25.ndcg10),
          f3(q.graph.ndcg10),
          f3(q.plain.ndcg10),
          ...(tunedOptions ? [f3(q.tuned.ndcg10)] : []),
          `>= ${f3(goal(r))}`,
          met(q.bm25.ndcg10, goal(r)),
          met(q.graph.ndcg10, goal(r)),
        ];
      }),
    ),
    table(
      'Recall@100',
      [
        'collection',
        'gateway bm25',
        'gateway +graph',
        'plain qdrant',
        ...(tunedOptions ? ['plain tuned'] : []),
      ],
      runs.map((r) => [
        r.name,
        f3(r.quality!.bm25.recall100),
        f3(r.quality!.graph.recall100),
        f3(r.quality!.plain.recall100),
        ...(tunedOptions ? [f3(r.quality!.tuned.recall100)] : []),
      ]),
    ),
    table(
      'Ingestion (gateway through the CLI; baseline = direct upsert of the same chunks)',
      [
        'collection',
        'documents',
        'failed',
        'chunks',
        'baseline chunks',
        'seconds',
        'docs/s',
        'chunks/s',
        'baseline docs/s',
      ],
      runs.map((r) => [
        r.name,
        String(r.ingest.documents),
        String(r.ingest.failures.length),
        String(r.ingest.chunks),
        String(r.baseline.chunks),
        r.ingest.elapsed_s.toFixed(1),
        r.ingest.documents_per_s.toFixed(1),
        r.ingest.chunks_per_s.toFixed(1),
        (r.corpusIds.size / r.baselineSeconds).toFixed(0),
      ]),
    ),
    table(
      "Isolation: results whose document is not in the tenant's own corpus (must be 0)",
      ['collection', 'foreign results'],
      runs.map((r) => [r.name, String(r.foreign)]),
    ),
  ];
  for (const r of runs) {
    const failures = r.ingest.failures;
    if (failures.length === 0) continue;
    const codes = new Map<string, number>();
    for (const f of failures) codes.set(f.code, (codes.get(f.code) ?? 0) + 1);
    out.push(
      `${r.name} ingestion failures by code: ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}\n`,
    );
  }
  if (latencyRun !== undefined) {
    const ms = (n: number) => n.toFixed(1);
    out.push(
      table(
        `Retrieve latency, top 10 with payload, one query (${latencyRun.query.slice(0, 60)}...)`,
        ['connections', 'target', 'mean ms', 'p50 ms', 'p99 ms', 'req/s', 'non-2xx', 'errors'],
        latencyRun.rows.flatMap(({ connections, gateway: g, bm25: b, direct: d }) => {
          const ratio = (a: number, b: number) => (b > 0 ? `x${(a / b).toFixed(1)}` : '(< 1 ms)');
          const row = (target: string, r: LatencyResult) => [
            String(connections),
            target,
            ms(r.mean),
            ms(r.p50),
            ms(r.p99),
            r.rps.toFixed(0),
            String(r.non2xx),
            String(r.errors),
          ];
          const ratios = (label: string, r: LatencyResult) => [
            String(connections),
            label,
            ratio(r.mean, d.mean),
            ratio(r.p50, d.p50),
            ratio(r.p99, d.p99),
            `x${(r.rps / d.rps).toFixed(2)}`,
            '',
            '',
          ];
          return [
            row('gateway', g),
            row('gateway no graph', b),
            row('qdrant direct', d),
            ratios('gateway/direct', g),
            ratios('no graph/direct', b),
          ];
        }),
      ),
    );
  }
  if (tunedOptions)
    out.push(`plain tuned = plain Qdrant BM25 with options ${JSON.stringify(tunedOptions)}\n`);
  return out.join('\n');
}

try {
  for (const name of names) runs.push(await prepare(name));
  // Every tenant holds its corpus before any query runs, so a leak across tenants would show.
  for (const run of runs) {
    process.stdout.write(`${run.name}: scoring the judged test queries\n`);
    await score(run);
  }
  const latencyRun =
    values['skip-latency'] || runs[0] === undefined
      ? undefined
      : await latency(runs[0], Number(values.seconds));
  process.stdout.write(`\n${report(latencyRun)}`);
  if (runs.some((r) => (r.foreign ?? 0) > 0)) process.exitCode = 1;
} finally {
  // A run that failed part-way removes what it created, so the stores are left as they were.
  for (const baseline of baselines) await baseline.drop().catch(() => undefined);
  for (const tenant of tenants)
    await gateway('DELETE', `/v1/tenants/${tenant}`, operator).catch(() => undefined);
  await app.close();
}
