import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { catalogFileSchema, keyValueProblems, type CatalogFile } from './catalog-file.js';
import { CatalogError, ProblemList } from './catalog-problems.js';
import { buildCatalog } from './build-catalog.js';
import type { ModelCatalog } from './model-catalog.js';

/** How `loadCatalog` names the file and reads key files. */
export interface LoadCatalogOptions {
  /** What messages start with (default `MODELS_FILE`, the setting that names the file). */
  readonly source?: string;
  /** Reads a key file (default: `fs.readFileSync` as UTF-8). */
  readonly readFile?: (path: string) => string;
}

/**
 * The catalog written in `text` (YAML, or JSON, which is YAML too), validated, with each
 * upstream's key resolved from `env` (`api_key_env`) or its file (`api_key_file`).
 * @throws CatalogError listing every problem, each naming the entry and field, e.g.
 * `MODELS_FILE: upstreams[2] "azure-east": kind must be one of openai, azure-openai,
 * openai-compatible`. No message repeats a key or a value that looks like one.
 */
export function loadCatalog(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  options: LoadCatalogOptions = {},
): ModelCatalog {
  const source = options.source ?? 'MODELS_FILE';
  const data = parseText(text, source);
  const problems = new ProblemList(source, data);
  const reported = keyFieldProblems(data, problems);
  const parsed = catalogFileSchema.safeParse(data, {
    error: (issue) =>
      issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : undefined,
  });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.issue(issue, reported);
  }
  problems.throwIfAny();
  const file = parsed.data as CatalogFile;
  const keys = resolveKeys(file, env, options.readFile ?? readUtf8, problems);
  const catalog = buildCatalog(file, keys, problems);
  problems.throwIfAny();
  return catalog;
}

function parseText(text: string, source: string): unknown {
  const lines = new LineCounter();
  const document = parseDocument(text, {
    uniqueKeys: true,
    prettyErrors: false,
    lineCounter: lines,
  });
  const [error] = document.errors;
  if (error !== undefined) {
    // Only the position: YAML's own message may quote the source line, which may hold a key.
    const at = lines.linePos(error.pos[0]);
    const where = ` at line ${at.line}, column ${at.col}`;
    throw new CatalogError([`${source}: is not valid YAML or JSON${where} (${error.code})`]);
  }
  const data = document.toJS({ maxAliasCount: 100 }) as unknown;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new CatalogError([`${source}: must be a mapping with upstreams and models`]);
  }
  return data;
}

/** Reports key values written into entries; returns `section[i].field` of each, to skip later. */
function keyFieldProblems(data: unknown, problems: ProblemList): Set<string> {
  const reported = new Set<string>();
  for (const section of ['upstreams', 'models'] as const) {
    const entries = (data as Record<string, unknown> | null)?.[section];
    if (!Array.isArray(entries)) continue;
    entries.forEach((entry, index) => {
      for (const { field, message } of keyValueProblems(entry)) {
        problems.entry(section, index, [field], message);
        reported.add(`${section}[${index}].${field}`);
      }
    });
  }
  return reported;
}

function resolveKeys(
  file: CatalogFile,
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string,
  problems: ProblemList,
): Map<string, string> {
  const keys = new Map<string, string>();
  file.upstreams.forEach((entry, index) => {
    if (entry.api_key_env !== undefined) {
      const key = env[entry.api_key_env]?.trim();
      if (key === undefined || key === '') {
        problems.entry(
          'upstreams',
          index,
          ['api_key_env'],
          `names ${entry.api_key_env}, which is not set`,
        );
      } else keys.set(entry.id, key);
    } else if (entry.api_key_file !== undefined) {
      let key: string | undefined;
      try {
        key = readFile(entry.api_key_file).trim();
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        const reason = typeof code === 'string' ? ` (${code})` : '';
        problems.entry('upstreams', index, ['api_key_file'], `cannot be read${reason}`);
        return;
      }
      if (key === '') problems.entry('upstreams', index, ['api_key_file'], 'is empty');
      else keys.set(entry.id, key);
    }
  });
  return keys;
}

function readUtf8(path: string): string {
  return readFileSync(path, 'utf8');
}
