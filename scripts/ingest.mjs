// Bulk ingestion of a BEIR corpus (`{"_id","title","text","metadata"?}` per line) through the
// gateway's POST /v1/documents, with a progress bar, resumable after an interruption.
//   npm run ingest -- --tenant acme --file corpus.jsonl [--url http://127.0.0.1:8080]
//     [--token <jwt> | env ISOGATE_TOKEN] [--concurrency 8] [--id-prefix scifact:] [--restart]
//     [--title-as-text] [--json]
// Without a token (and outside production) a development admin token for --tenant is minted.
// Exit codes: 0 all stored, 1 a document failed or the run stopped, 2 bad arguments, 130 on
// Ctrl-C (the state is saved: run the same command again to resume).
import { stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { Pool } from 'undici';
import { mintDevToken } from './dev-token.mjs';
import {
  clearState,
  countLines,
  loadState,
  parseCorpusLine,
  PrefixTracker,
  retryDelayMs,
  saveState,
  statePath,
  tenantOfToken,
} from './ingest-support.mjs';

const MAX_RETRIES = 8;
const STATE_EVERY_MS = 500;
const RETRYABLE = new Set([429, 502, 503, 504]);
const USAGE = `usage: npm run ingest -- --tenant <id> --file <corpus.jsonl> [--url <gateway>]
       [--token <jwt>] [--concurrency 8] [--id-prefix <p>] [--title-as-text] [--restart] [--json]`;

function badArguments(message) {
  process.stderr.write(`ingest: ${message}\n${USAGE}\n`);
  process.exit(2);
}

async function readArguments() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        tenant: { type: 'string' },
        file: { type: 'string' },
        url: { type: 'string', default: 'http://127.0.0.1:8080' },
        token: { type: 'string' },
        concurrency: { type: 'string', default: '8' },
        'id-prefix': { type: 'string', default: '' },
        'title-as-text': { type: 'boolean', default: false },
        restart: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    badArguments(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (values.file === undefined) badArguments('--file is required');
  const fileStat = await stat(values.file).catch(() => undefined);
  if (!fileStat?.isFile()) badArguments(`--file ${values.file} is not a readable file`);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)
    badArguments('--concurrency must be an integer 1..256');
  let url;
  try {
    url = new URL(values.url);
  } catch {
    badArguments(`--url ${values.url} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') badArguments('--url must be http(s)');
  let token = values.token ?? process.env.ISOGATE_TOKEN;
  const tenant = values.tenant ?? (token !== undefined ? tenantOfToken(token) : undefined);
  if (tenant === undefined) badArguments('--tenant is required');
  if (token === undefined) {
    if (process.env.NODE_ENV === 'production')
      badArguments('no token: give --token or set ISOGATE_TOKEN');
    try {
      token = await mintDevToken({
        tenant,
        roles: ['admin'],
        sub: 'ingest-cli',
        ttlSeconds: 43_200,
      });
    } catch (error) {
      badArguments(
        `cannot mint a development token: ${error instanceof Error ? error.message : error}`,
      );
    }
  }
  return { ...values, tenant, token, url, concurrency, fileStat };
}

/** The `code` of an API error answer, without ever echoing its message. */
function errorCode(text) {
  try {
    const code = JSON.parse(text)?.error?.code;
    return typeof code === 'string' && /^[a-z0-9_]{1,64}$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

/** Sends one document; `{chunks}`, `{failure: {status, code}}` or `{fatal: reason}`. */
async function send(pool, options, document) {
  const path = `${options.url.pathname.replace(/\/$/, '')}/v1/documents`;
  for (let attempt = 0; ; attempt++) {
    let status, retryAfter, text;
    try {
      const response = await pool.request({
        path,
        method: 'POST',
        headers: {
          authorization: `Bearer ${options.token}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(document),
        headersTimeout: 300_000,
        bodyTimeout: 300_000,
      });
      status = response.statusCode;
      const header = response.headers['retry-after'];
      retryAfter = Array.isArray(header) ? header[0] : header;
      text = await response.body.text();
    } catch (error) {
      if (attempt >= MAX_RETRIES)
        return {
          fatal: `the gateway cannot be reached (${error?.code ?? error?.name ?? 'error'})`,
        };
      await sleep(retryDelayMs(attempt));
      continue;
    }
    if (status === 201) {
      let chunks = 0;
      try {
        chunks = Number(JSON.parse(text)?.chunks) || 0;
      } catch {
        // a 201 without a readable body still stored the document
      }
      return { chunks };
    }
    const code = errorCode(text) ?? `http_${status}`;
    if (RETRYABLE.has(status)) {
      if (attempt >= MAX_RETRIES)
        return { fatal: `HTTP ${status} ${code} still after ${attempt + 1} attempts` };
      await sleep(retryDelayMs(attempt, retryAfter));
      continue;
    }
    // Refusals that every further line would get too stop the run (the state allows a resume).
    if (status === 401 || status === 403)
      return { fatal: `HTTP ${status} ${code}: this token may not add documents here` };
    if (status === 404) return { fatal: `HTTP 404 ${code}: the gateway has no /v1/documents` };
    return { failure: { status, code } };
  }
}

function printReport(report, asJson) {
  if (asJson) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  const lines = [
    `ingest: ${report.status}`,
    `  lines ${report.lines} (${report.skipped_lines} skipped, done in an earlier run)`,
    `  documents ${report.documents}, chunks ${report.chunks} in ${report.elapsed_s.toFixed(1)} s`,
    `  ${report.documents_per_s.toFixed(1)} documents/s, ${report.chunks_per_s.toFixed(1)} chunks/s`,
    `  failures ${report.failures.length}`,
    ...report.failures
      .slice(0, 20)
      .map(
        (f) =>
          `    line ${f.line}${f.id !== undefined ? ` id ${JSON.stringify(f.id)}` : ''}: ${f.code}${f.status !== undefined ? ` (HTTP ${f.status})` : ''}`,
      ),
    ...(report.failures.length > 20 ? [`    ... ${report.failures.length - 20} more`] : []),
    ...(report.reason !== undefined ? [`  stopped: ${report.reason}`] : []),
    ...(report.status !== 'complete'
      ? [`  state: ${report.state_file} (run again to resume)`]
      : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main() {
  const options = await readArguments();
  const stateFile = statePath(options.tenant, options.file);
  if (options.restart) await clearState(stateFile);
  const saved = options.restart ? undefined : await loadState(stateFile, options.fileStat);
  const tracker = new PrefixTracker(saved);
  const skipped = tracker.doneThrough;
  const total = await countLines(options.file);
  const run = { documents: 0, chunks: 0, lines: skipped, failures: [] };
  const started = performance.now();

  const bar = new cliProgress.SingleBar(
    {
      format:
        'ingest [{bar}] {percentage}% | {value}/{total} lines | {documents} docs, {chunks} chunks | {failed} failed | ETA {eta_formatted}',
      stream: process.stderr,
      fps: 5,
      etaBuffer: 200,
      hideCursor: false,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, skipped, { documents: 0, chunks: 0, failed: 0 });

  let dirty = false;
  let writing = Promise.resolve();
  const persist = () => {
    dirty = false;
    writing = writing
      .then(() => saveState(stateFile, options.fileStat, tracker.snapshot()))
      .catch(() => undefined);
    return writing;
  };
  const timer = setInterval(() => void (dirty && persist()), STATE_EVERY_MS);

  const report = (status, reason) => {
    const elapsed = (performance.now() - started) / 1000;
    const earlier = saved?.failures ?? [];
    return {
      status,
      ...(reason !== undefined ? { reason } : {}),
      file: options.file,
      tenant: options.tenant,
      lines: total,
      skipped_lines: skipped,
      documents: run.documents,
      chunks: run.chunks,
      elapsed_s: elapsed,
      documents_per_s: elapsed > 0 ? run.documents / elapsed : 0,
      chunks_per_s: elapsed > 0 ? run.chunks / elapsed : 0,
      earlier:
        saved !== undefined ? { documents: saved.documents, chunks: saved.chunks } : undefined,
      failures: [...earlier, ...run.failures].sort((a, b) => a.line - b.line),
      state_file: stateFile,
    };
  };

  let interrupted = false;
  const onSignal = async (signal) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    clearInterval(timer);
    await persist();
    bar.stop();
    printReport(report('interrupted', `${signal}`), options.json);
    process.exit(130);
  };
  process.on('SIGINT', (signal) => void onSignal(signal));
  process.on('SIGTERM', (signal) => void onSignal(signal));

  const complete = (line, outcome) => {
    tracker.complete(line, outcome);
    dirty = true;
    run.lines += 1;
    if (outcome.failure !== undefined) run.failures.push(outcome.failure);
    if (outcome.chunks !== undefined) {
      run.documents += 1;
      run.chunks += outcome.chunks;
    }
    bar.update(run.lines, { ...run, failed: run.failures.length });
  };

  const pool = new Pool(options.url.origin, {
    connections: options.concurrency,
    keepAliveTimeout: 30_000,
  });
  const inFlight = new Set();
  let fatal;
  let line = 0;
  const input = createInterface({ input: createReadStream(options.file), crlfDelay: Infinity });
  for await (const raw of input) {
    line += 1;
    if (line <= skipped) continue;
    if (fatal !== undefined || interrupted) break;
    if (raw.trim() === '') {
      complete(line, {});
      continue;
    }
    const parsed = parseCorpusLine(raw, {
      idPrefix: options['id-prefix'],
      titleAsText: options['title-as-text'],
    });
    if (parsed.error !== undefined) {
      complete(line, { failure: { line, ...parsed.error } });
      continue;
    }
    while (inFlight.size >= options.concurrency) await Promise.race(inFlight);
    const current = line;
    const task = send(pool, options, parsed.document).then((outcome) => {
      inFlight.delete(task);
      if (outcome.fatal !== undefined) fatal ??= outcome.fatal;
      else if (outcome.failure !== undefined)
        complete(current, {
          failure: { line: current, id: parsed.document.id, ...outcome.failure },
        });
      else complete(current, outcome);
    });
    inFlight.add(task);
  }
  input.close();
  await Promise.all(inFlight);
  if (interrupted) return new Promise(() => undefined); // the signal handler exits
  clearInterval(timer);
  bar.stop();
  await pool.close();
  if (fatal !== undefined) {
    await persist();
    printReport(report('stopped', fatal), options.json);
    process.exit(1);
  }
  await writing;
  await clearState(stateFile);
  const final = report('complete');
  printReport(final, options.json);
  process.exit(final.failures.length > 0 ? 1 : 0);
}

await main();
