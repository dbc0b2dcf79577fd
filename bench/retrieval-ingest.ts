// Runs the bulk ingestion CLI (scripts/ingest.mjs) as a child process, the way an operator
// would, and returns its JSON report. The progress bar goes to this process's stderr.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** One ingestion failure as the CLI reports it (never any document text). */
export interface IngestFailure {
  readonly line: number;
  readonly id?: string;
  readonly code: string;
  readonly status?: number;
}

/** The CLI's `--json` report. */
export interface IngestReport {
  readonly status: 'complete' | 'stopped' | 'interrupted';
  readonly reason?: string;
  readonly lines: number;
  readonly skipped_lines: number;
  readonly documents: number;
  readonly chunks: number;
  readonly elapsed_s: number;
  readonly documents_per_s: number;
  readonly chunks_per_s: number;
  readonly failures: IngestFailure[];
}

/** What one CLI run needs. */
export interface IngestRun {
  readonly url: string;
  readonly token: string;
  readonly tenant: string;
  readonly file: string;
  readonly idPrefix: string;
  readonly concurrency: number;
  /** Send a title-only record's title as its text (the API refuses an empty text). */
  readonly titleAsText: boolean;
}

/** Ingests `run.file` with the CLI from the start (`--restart`) and parses its report. */
export async function ingestWithCli(run: IngestRun): Promise<IngestReport> {
  const args = [
    resolve('scripts/ingest.mjs'),
    '--url',
    run.url,
    '--tenant',
    run.tenant,
    '--file',
    run.file,
    '--id-prefix',
    run.idPrefix,
    '--concurrency',
    String(run.concurrency),
    ...(run.titleAsText ? ['--title-as-text'] : []),
    '--restart',
    '--json',
  ];
  // The token travels in the environment, not on the command line (ps shows arguments).
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ISOGATE_TOKEN: run.token },
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const code = await new Promise<number | null>((done, fail) => {
    child.on('error', fail);
    child.on('close', done);
  });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  let report: IngestReport;
  try {
    report = JSON.parse(last) as IngestReport;
  } catch {
    throw new Error(`ingest CLI exited ${code} without a report`);
  }
  if (report.status !== 'complete')
    throw new Error(`ingest CLI ${report.status}: ${report.reason ?? ''}`);
  return report;
}
