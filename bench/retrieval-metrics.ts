// BEIR-style evaluation helpers: qrels, queries, corpus streaming and the two measures
// (nDCG@k with graded gains, Recall@k), computed the way pytrec_eval does for BEIR.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';

/** Judgments: query id -> document id -> score (higher is more relevant). */
export type Qrels = Map<string, Map<string, number>>;

/** One corpus record as the BEIR files carry it. */
export interface CorpusRecord {
  readonly id: string;
  readonly title: string;
  readonly text: string;
}

/** Reads a BEIR qrels TSV (`query-id`, `corpus-id`, `score`, with a header line). */
export async function loadQrels(path: string): Promise<Qrels> {
  const qrels: Qrels = new Map();
  const lines = (await readFile(path, 'utf8')).split(/\r?\n/);
  for (const line of lines.slice(1)) {
    const [query, doc, score] = line.split('\t');
    if (query === undefined || doc === undefined || score === undefined) continue;
    let judged = qrels.get(query);
    if (judged === undefined) qrels.set(query, (judged = new Map<string, number>()));
    judged.set(doc, Number(score));
  }
  return qrels;
}

/** The text of the queries whose ids are in `wanted`. */
export async function loadQueries(
  path: string,
  wanted: ReadonlySet<string>,
): Promise<Map<string, string>> {
  const queries = new Map<string, string>();
  for await (const line of createInterface({
    input: createReadStream(path),
    crlfDelay: Infinity,
  })) {
    if (line.trim() === '') continue;
    const record = JSON.parse(line) as { _id: string | number; text: string };
    const id = String(record._id);
    if (wanted.has(id)) queries.set(id, record.text);
  }
  return queries;
}

/** Streams the corpus records of a BEIR `corpus.jsonl`. */
export async function* readCorpus(path: string): AsyncGenerator<CorpusRecord> {
  for await (const line of createInterface({
    input: createReadStream(path),
    crlfDelay: Infinity,
  })) {
    if (line.trim() === '') continue;
    const record = JSON.parse(line) as { _id: string | number; title?: string; text?: string };
    yield { id: String(record._id), title: record.title ?? '', text: record.text ?? '' };
  }
}

/** A document ranking from ranked chunks: each document at its first chunk's place. */
export function documentRanking(documentIds: Iterable<string>): string[] {
  return [...new Set(documentIds)];
}

/**
 * nDCG@k: gain = the judged score (scores <= 0 count as not relevant), discount log2(rank + 1),
 * normalised by the ideal ordering of the judgments.
 */
export function ndcgAt(ranking: readonly string[], judged: ReadonlyMap<string, number>, k: number) {
  let dcg = 0;
  for (const [index, doc] of ranking.slice(0, k).entries())
    dcg += Math.max(0, judged.get(doc) ?? 0) / Math.log2(index + 2);
  const ideal = [...judged.values()]
    .filter((score) => score > 0)
    .sort((a, b) => b - a)
    .slice(0, k);
  const idcg = ideal.reduce((sum, score, index) => sum + score / Math.log2(index + 2), 0);
  return idcg > 0 ? dcg / idcg : 0;
}

/** Recall@k: the share of the relevant (score > 0) documents found in the first k. */
export function recallAt(
  ranking: readonly string[],
  judged: ReadonlyMap<string, number>,
  k: number,
) {
  const relevant = [...judged].filter(([, score]) => score > 0).map(([doc]) => doc);
  if (relevant.length === 0) return 0;
  const top = new Set(ranking.slice(0, k));
  return relevant.filter((doc) => top.has(doc)).length / relevant.length;
}

/** Mean nDCG@10 and Recall@100 over the judged queries that have a relevant document. */
export function evaluate(qrels: Qrels, rankings: ReadonlyMap<string, readonly string[]>) {
  let ndcg = 0;
  let recall = 0;
  let queries = 0;
  for (const [query, judged] of qrels) {
    if (![...judged.values()].some((score) => score > 0)) continue;
    const ranking = rankings.get(query) ?? [];
    ndcg += ndcgAt(ranking, judged, 10);
    recall += recallAt(ranking, judged, 100);
    queries += 1;
  }
  return {
    ndcg10: queries > 0 ? ndcg / queries : 0,
    recall100: queries > 0 ? recall / queries : 0,
    queries,
  };
}

/** Runs `work` over `items` with at most `limit` at once, keeping the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A plain-text table with right-aligned columns after the first. */
export function table(title: string, header: readonly string[], rows: readonly string[][]): string {
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (row: readonly string[]) =>
    row
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('  ');
  return [
    title,
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    '',
  ].join('\n');
}
