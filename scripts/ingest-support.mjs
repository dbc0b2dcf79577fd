// Pure helpers of the bulk ingestion CLI (scripts/ingest.mjs): line parsing, metadata
// flattening, resume state and retry timing. No network here.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

const MAX_METADATA_KEYS = 32;
// The keys the API accepts (apps/gateway/src/documents/document.schemas.ts).
const METADATA_KEY = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
const MAX_METADATA_VALUE_LENGTH = 1_000;
const MAX_METADATA_BYTES = 4_096;
/** Failures kept in the resume state, so a resumed run still reports what failed before. */
const MAX_REMEMBERED_FAILURES = 1_000;

/** Counts the lines of a file by streaming it (a last line without a newline counts too). */
export async function countLines(path) {
  let lines = 0;
  let last = 10;
  for await (const chunk of createReadStream(path)) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines += 1;
    if (chunk.length > 0) last = chunk[chunk.length - 1];
  }
  return last === 10 ? lines : lines + 1;
}

/**
 * Keeps only flat metadata values the API stores: strings, finite numbers and booleans; arrays
 * of those are joined with ', '; everything else is dropped. Bounded in keys and bytes, since
 * BEIR metadata (authors, bibliographic lines, keywords) can be long.
 */
export function flattenMetadata(metadata) {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))
    return undefined;
  const flat = {};
  let bytes = 2;
  for (const [key, raw] of Object.entries(metadata)) {
    if (Object.keys(flat).length >= MAX_METADATA_KEYS) break;
    if (!METADATA_KEY.test(key)) continue;
    let value = scalar(raw);
    if (value === undefined && Array.isArray(raw)) {
      const parts = raw.map(scalar).filter((part) => part !== undefined && part !== '');
      value = parts.length > 0 ? parts.join(', ') : undefined;
    }
    if (value === undefined || value === '') continue;
    if (typeof value === 'string' && value.length > MAX_METADATA_VALUE_LENGTH)
      value = value.slice(0, MAX_METADATA_VALUE_LENGTH);
    const entryBytes = Buffer.byteLength(JSON.stringify({ [key]: value })) - 1;
    if (bytes + entryBytes > MAX_METADATA_BYTES) continue;
    flat[key] = value;
    bytes += entryBytes;
  }
  return Object.keys(flat).length > 0 ? flat : undefined;
}

function scalar(value) {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  return undefined;
}

/**
 * Turns one BEIR corpus line into the POST /v1/documents body, or names why it cannot:
 * `{document}` or `{error: {code}}`. With `titleAsText`, a record without text (CACM has
 * 1,617 title-only records) sends its title as the text, since the API refuses empty text.
 */
export function parseCorpusLine(line, { idPrefix = '', titleAsText = false } = {}) {
  let record;
  try {
    record = JSON.parse(line);
  } catch {
    return { error: { code: 'malformed_json' } };
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record))
    return { error: { code: 'not_an_object' } };
  const rawId = record._id;
  if (!(typeof rawId === 'string' && rawId !== '') && !Number.isInteger(rawId))
    return { error: { code: 'missing_id' } };
  const id = `${idPrefix}${String(rawId)}`;
  const document = {
    id,
    title: typeof record.title === 'string' ? record.title : '',
    text: typeof record.text === 'string' ? record.text : '',
  };
  if (titleAsText && document.text.trim() === '') document.text = document.title;
  const metadata = flattenMetadata(record.metadata);
  if (metadata !== undefined) document.metadata = metadata;
  return { document };
}

/** Milliseconds to wait before retry `attempt` (0-based): a `Retry-After` answer, else backoff. */
export function retryDelayMs(attempt, retryAfter, now = Date.now()) {
  const capMs = 30_000;
  if (typeof retryAfter === 'string' && retryAfter.trim() !== '') {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(capMs, seconds * 1000);
    const date = Date.parse(retryAfter);
    if (Number.isFinite(date)) return Math.min(capMs, Math.max(0, date - now));
  }
  const base = Math.min(capMs, 250 * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}

/**
 * Tracks which lines are done when requests complete out of order: `doneThrough` is the
 * highest line number below which (inclusive) every line is done. Results of lines past it are
 * held until the prefix reaches them, so the prefix totals are exactly what a resume skips.
 */
export class PrefixTracker {
  constructor(start = { doneThrough: 0, documents: 0, chunks: 0, failures: [] }) {
    this.doneThrough = start.doneThrough;
    this.documents = start.documents;
    this.chunks = start.chunks;
    this.failures = [...start.failures];
    this.pending = new Map();
  }

  /** Marks `line` done with its outcome: `{chunks}` for a stored document, `{failure}` else. */
  complete(line, outcome) {
    this.pending.set(line, outcome);
    for (let next = this.pending.get(this.doneThrough + 1); next !== undefined;) {
      this.pending.delete(this.doneThrough + 1);
      this.doneThrough += 1;
      if (next.failure !== undefined) {
        if (this.failures.length < MAX_REMEMBERED_FAILURES) this.failures.push(next.failure);
      } else if (next.chunks !== undefined) {
        this.documents += 1;
        this.chunks += next.chunks;
      }
      next = this.pending.get(this.doneThrough + 1);
    }
  }

  snapshot() {
    return {
      doneThrough: this.doneThrough,
      documents: this.documents,
      chunks: this.chunks,
      failures: this.failures,
    };
  }
}

/** Where the resume state of (tenant, file) lives: nothing secret, under `<cwd>/.ingest/`. */
export function statePath(tenant, file, cwd = process.cwd()) {
  const digest = createHash('sha256').update(resolve(file)).digest('hex').slice(0, 16);
  const safeTenant = tenant.replace(/[^a-z0-9-]/gi, '_').slice(0, 64);
  return join(cwd, '.ingest', `${safeTenant}-${digest}.json`);
}

/** The saved state, when it belongs to this exact file (same size and mtime); else undefined. */
export async function loadState(path, fileStat) {
  let saved;
  try {
    saved = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
  if (saved?.version !== 1 || saved.size !== fileStat.size || saved.mtimeMs !== fileStat.mtimeMs)
    return undefined;
  const { doneThrough, documents, chunks, failures } = saved;
  if (![doneThrough, documents, chunks].every((n) => Number.isInteger(n) && n >= 0))
    return undefined;
  return { doneThrough, documents, chunks, failures: Array.isArray(failures) ? failures : [] };
}

/** Writes the state atomically (temporary file, then rename), so a crash leaves a whole file. */
export async function saveState(path, fileStat, progress) {
  await mkdir(dirname(path), { recursive: true });
  const body = { version: 1, size: fileStat.size, mtimeMs: fileStat.mtimeMs, ...progress };
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(body)}\n`, { mode: 0o600 });
  await rename(temporary, path);
}

/** Removes the state once a run has reached the end of its file. */
export async function clearState(path) {
  await rm(path, { force: true });
}

/** The `tenant_id` claim of a JWT, read without verifying it (only to name the state file). */
export function tenantOfToken(token) {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString());
    return typeof payload?.tenant_id === 'string' ? payload.tenant_id : undefined;
  } catch {
    return undefined;
  }
}
