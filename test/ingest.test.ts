import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { api } from './support/api.js';
import { freshId } from './support/db.js';
import { testConfig } from './support/env.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';

const CLI = resolve('scripts/ingest.mjs');
const CANARY = 'zanzibarquokka';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Report {
  status: string;
  skipped_lines: number;
  documents: number;
  chunks: number;
  documents_per_s: number;
  failures: { line: number; id?: string; code: string; status?: number }[];
}

/** Runs the CLI in `cwd` (where it keeps its resume state); `whileRunning` may signal it. */
async function runCli(
  args: string[],
  cwd: string,
  whileRunning?: (pid: number, stop: AbortSignal) => Promise<void>,
): Promise<CliRun> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new AbortController();
  const closed = new Promise<number | null>((resolveClose) =>
    child.on('close', (code) => {
      done.abort();
      resolveClose(code);
    }),
  );
  if (whileRunning !== undefined) await whileRunning(child.pid as number, done.signal);
  return { code: await closed, stdout, stderr };
}

const reportOf = (run: CliRun) => JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as Report;

const line = (id: string, n: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    _id: id,
    title: `Report ${n} on ${CANARY} habitats`,
    text: `Field note ${n}: the ${CANARY} colony number ${n} was observed near the river delta.`,
    ...extra,
  });

/** The state file the CLI keeps for (tenant, file) in `cwd`: documented in scripts/ingest-support.mjs. */
const stateFileOf = (cwd: string, tenant: string, file: string) =>
  join(
    cwd,
    '.ingest',
    `${tenant}-${createHash('sha256').update(resolve(file)).digest('hex').slice(0, 16)}.json`,
  );

describe('bulk ingestion CLI', () => {
  let idp: TestIdentityProvider;
  let gateway: RunningGateway;
  let operator: string;
  let work: string;
  const tenants: string[] = [];

  const newTenant = async () => {
    const id = freshId('ingest');
    const created = await api(gateway.url, operator, 'POST', '/v1/tenants', {
      id,
      name: id,
      pii: 'off',
    });
    expect(created.status).toBe(201);
    tenants.push(id);
    return {
      id,
      admin: await idp.token({ tenant_id: id, roles: ['admin'] }, { expiresIn: 600 }),
      user: await idp.token({ tenant_id: id, roles: ['user'] }, { expiresIn: 600 }),
    };
  };

  const listIds = async (token: string): Promise<string[]> => {
    const ids: string[] = [];
    let cursor: string | null | undefined;
    do {
      const query = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = await api<{ data: { id: string }[]; next_cursor: string | null }>(
        gateway.url,
        token,
        'GET',
        `/v1/documents?limit=50${query}`,
      );
      expect(page.status).toBe(200);
      ids.push(...page.body.data.map((d) => d.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    return ids.sort();
  };

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    gateway = await startGateway(testConfig(idp.env));
    operator = await idp.token({ msp_id: freshId('msp'), roles: ['operator'] }, { expiresIn: 600 });
    work = await mkdtemp(join(tmpdir(), 'isogate-ingest-'));
  });
  afterAll(async () => {
    for (const id of tenants) await api(gateway.url, operator, 'DELETE', `/v1/tenants/${id}`);
    await gateway.close();
    await idp.close();
    await rm(work, { recursive: true, force: true });
  });

  it('ingests every valid line, reports the malformed and the empty one, and exits 1', async () => {
    const tenant = await newTenant();
    const lines = Array.from({ length: 30 }, (_, i) => {
      const n = i + 1;
      if (n === 10) return '{"_id": "d10", "title": "broken';
      if (n === 20) return JSON.stringify({ _id: 'd20', title: '', text: '' });
      return line(
        `d${n}`,
        n,
        n % 3 === 0
          ? { metadata: { authors: ['Ng, A.', 'Li, B.'], year: 1999, nested: { x: 1 } } }
          : {},
      );
    });
    const file = join(work, 'small.jsonl');
    await writeFile(file, `${lines.join('\n')}\n`);

    const run = await runCli(
      ['--url', gateway.url, '--token', tenant.admin, '--file', file, '--json'],
      work,
    );
    expect(run.code).toBe(1);
    const report = reportOf(run);
    expect(report).toMatchObject({ status: 'complete', skipped_lines: 0, documents: 28 });
    expect(report.chunks).toBeGreaterThanOrEqual(28);
    expect(report.documents_per_s).toBeGreaterThan(0);
    expect(report.failures).toEqual([
      { line: 10, code: 'malformed_json' },
      { line: 20, id: 'd20', code: expect.any(String), status: expect.any(Number) },
    ]);
    expect(report.failures[1]?.status).toBeGreaterThanOrEqual(400);
    expect(report.failures[1]?.status).toBeLessThan(500);
    // Neither the token nor any document text is ever printed.
    for (const output of [run.stdout, run.stderr]) {
      expect(output).not.toContain(tenant.admin);
      expect(output).not.toContain(CANARY);
    }

    const expected = Array.from({ length: 30 }, (_, i) => `d${i + 1}`)
      .filter((id) => id !== 'd10' && id !== 'd20')
      .sort();
    expect(await listIds(tenant.user)).toEqual(expected);
    // Control: another tenant sees none of them.
    expect(await listIds((await newTenant()).user)).toEqual([]);
  });

  it('resumes after the done prefix recorded in its state file', async () => {
    const tenant = await newTenant();
    const file = join(work, 'resume.jsonl');
    await writeFile(
      file,
      `${Array.from({ length: 20 }, (_, i) => line(`r${i + 1}`, i + 1)).join('\n')}\n`,
    );
    const { size, mtimeMs } = await stat(file);
    const state = stateFileOf(work, tenant.id, file);
    await mkdir(join(work, '.ingest'), { recursive: true });
    await writeFile(
      state,
      JSON.stringify({
        version: 1,
        size,
        mtimeMs,
        doneThrough: 12,
        documents: 12,
        chunks: 12,
        failures: [],
      }),
    );

    const run = await runCli(
      [
        '--url',
        gateway.url,
        '--tenant',
        tenant.id,
        '--token',
        tenant.admin,
        '--file',
        file,
        '--json',
      ],
      work,
    );
    expect(run.code).toBe(0);
    expect(reportOf(run)).toMatchObject({
      status: 'complete',
      skipped_lines: 12,
      documents: 8,
      failures: [],
    });
    // Lines 1-12 were skipped, so only 13-20 exist in the tenant.
    expect(await listIds(tenant.user)).toEqual(
      Array.from({ length: 8 }, (_, i) => `r${i + 13}`).sort(),
    );
    expect(existsSync(state)).toBe(false);
  });

  it('saves its progress on Ctrl-C and a rerun completes the rest', async () => {
    const tenant = await newTenant();
    const file = join(work, 'interrupt.jsonl');
    const total = 150;
    await writeFile(
      file,
      `${Array.from({ length: total }, (_, i) => line(`i${i + 1}`, i + 1)).join('\n')}\n`,
    );
    const state = stateFileOf(work, tenant.id, file);
    const args = [
      '--url',
      gateway.url,
      '--tenant',
      tenant.id,
      '--token',
      tenant.admin,
      '--file',
      file,
      '--json',
      '--concurrency',
      '1',
    ];

    const first = await runCli(args, work, async (pid, finished) => {
      while (!finished.aborted && !existsSync(state)) await sleep(20);
      if (!finished.aborted) process.kill(pid, 'SIGINT');
    });
    expect(first.code).toBe(130);
    expect(reportOf(first).status).toBe('interrupted');
    const saved = JSON.parse(await readFile(state, 'utf8')) as { doneThrough: number };
    expect(saved.doneThrough).toBeGreaterThan(0);
    expect(saved.doneThrough).toBeLessThan(total);

    const second = await runCli(args, work);
    expect(second.code).toBe(0);
    const report = reportOf(second);
    expect(report.skipped_lines).toBe(saved.doneThrough);
    expect(report.documents).toBe(total - saved.doneThrough);
    expect(await listIds(tenant.user)).toHaveLength(total);
  });

  it('refuses bad arguments with exit code 2', async () => {
    for (const args of [
      [],
      ['--file', join(work, 'missing.jsonl'), '--token', 'x.e30.y', '--tenant', 'abc'],
      ['--file', CLI, '--tenant', 'abc', '--token', 'x', '--concurrency', '0'],
      ['--bogus'],
    ]) {
      expect((await runCli(args, work)).code).toBe(2);
    }
  });
});
