import type { z } from 'zod';
import { UPSTREAM_ID } from './catalog-file.js';

/** Thrown when the catalog is invalid; each problem names the entry and the field. */
export class CatalogError extends Error {
  readonly code = 'invalid_model_catalog';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'CatalogError';
  }
}

type Section = 'upstreams' | 'models';
type Path = readonly PropertyKey[];

/** Names the entries of a parsed file in messages: `upstreams[2] "azure-east"`. */
export class ProblemList {
  readonly #problems: string[] = [];

  constructor(
    private readonly source: string,
    private readonly data: unknown,
  ) {}

  get count(): number {
    return this.#problems.length;
  }

  /** A problem of the file as a whole (it is not YAML, a top-level field is wrong). */
  file(message: string): void {
    this.#problems.push(`${this.source}: ${message}`);
  }

  /** A problem of entry `index` of `section`, at `field` inside it (empty: the entry itself). */
  entry(section: Section, index: number, field: Path, message: string): void {
    const where = fieldName(field);
    const what = where === '' ? message : join(where, message);
    this.#problems.push(`${this.source}: ${this.label(section, index)}: ${what}`);
  }

  /** A zod issue, placed by its path. `skip` names entry fields already reported. */
  issue(issue: z.core.$ZodIssue, skip: ReadonlySet<string>): void {
    const [section, index, ...field] = issue.path;
    if ((section === 'upstreams' || section === 'models') && typeof index === 'number') {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
      if (skip.has(`${section}[${index}].${String(field[0] ?? '')}`)) return;
      if (keys.length > 0) {
        for (const key of keys.filter((name) => !skip.has(`${section}[${index}].${name}`))) {
          this.entry(section, index, [...field, key], `is not a field of ${section}`);
        }
        return;
      }
      this.entry(section, index, field, issue.message);
      return;
    }
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) this.file(`${key} is not a field (upstreams, models)`);
      return;
    }
    this.file(join(fieldName(issue.path), issue.message));
  }

  /** Throws CatalogError when any problem was found. */
  throwIfAny(): void {
    if (this.#problems.length > 0) throw new CatalogError(this.#problems);
  }

  private label(section: Section, index: number): string {
    const entries = (this.data as Record<string, unknown> | null)?.[section];
    const entry: unknown = Array.isArray(entries) ? entries[index] : undefined;
    const name = (entry as Record<string, unknown> | undefined)?.[
      section === 'upstreams' ? 'id' : 'name'
    ];
    // Only a well-formed id is repeated, so a message never echoes a stray value.
    const safe =
      typeof name === 'string' &&
      (section === 'upstreams' ? UPSTREAM_ID.test(name) : /^[^\s"]{1,200}$/.test(name));
    return `${section}[${index}]${safe ? ` "${name}"` : ''}`;
  }
}

function fieldName(path: Path): string {
  return path
    .map((part, i) =>
      typeof part === 'number' ? `[${part}]` : `${i > 0 ? '.' : ''}${String(part)}`,
    )
    .join('');
}

// "kind must be ..." reads as a sentence; zod's own messages ("Invalid input: ...") follow a colon.
function join(field: string, message: string): string {
  if (field === '') return message;
  return /^[a-z]/.test(message) ? `${field} ${message}` : `${field}: ${message}`;
}
