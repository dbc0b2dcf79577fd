import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/**
 * The store boundary: this library is the only code that talks to a store. Anything outside it
 * that imports a store's driver, or holds SQL, could reach a store without the tenant scoping
 * the library enforces. Tests and benchmarks are outside the product and may do both.
 */
const DRIVERS = new Set(['pg', 'pg-pool', 'pg-cursor', 'ioredis', 'redis', 'falkordb']);
const DRIVER_SCOPES = ['@qdrant/'];
/** SQL as this code base writes it: upper-case keywords in their statement shapes. */
const SQL =
  /\b(SELECT\s[\s\S]*?\bFROM\b|SELECT\s+(\d|\$\d|pg_|set_config|current_)|INSERT\s+INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|(CREATE|ALTER|DROP)\s+(TABLE|ROLE|INDEX(?!\s+FOR\s*\()|POLICY|FUNCTION)\b|\bBEGIN\b;?$|\bCOMMIT\b;?$|pg_advisory)/;

const ROOT = join(import.meta.dirname, '..', '..', '..');
const SCANNED = ['apps', 'libs', 'scripts'];
const OWNER = join('libs', 'isolation');

export interface BoundaryProblem {
  readonly file: string;
  readonly line: number;
  readonly problem: string;
}

function isDriver(specifier: string): boolean {
  return DRIVERS.has(specifier) || DRIVER_SCOPES.some((scope) => specifier.startsWith(scope));
}

/** What in one source file crosses the store boundary: driver imports and SQL strings. */
export function boundaryProblems(file: string, source: string): BoundaryProblem[] {
  const kind = /\.[cm]?js$/.test(file) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const tree = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, kind);
  const problems: BoundaryProblem[] = [];
  const report = (node: ts.Node, problem: string) =>
    problems.push({
      file,
      line: tree.getLineAndCharacterOfPosition(node.getStart(tree)).line + 1,
      problem,
    });
  const visit = (node: ts.Node): void => {
    const specifier =
      ts.isImportDeclaration(node) || ts.isExportDeclaration(node)
        ? node.moduleSpecifier
        : ts.isCallExpression(node) &&
            (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
              (ts.isIdentifier(node.expression) && node.expression.text === 'require'))
          ? node.arguments[0]
          : undefined;
    if (specifier !== undefined && ts.isStringLiteralLike(specifier) && isDriver(specifier.text)) {
      report(node, `imports the store driver '${specifier.text}'`);
    }
    const text = ts.isStringLiteralLike(node)
      ? node.text
      : ts.isTemplateExpression(node)
        ? [node.head.text, ...node.templateSpans.map((span) => span.literal.text)].join(' $ ')
        : undefined;
    if (text !== undefined && SQL.test(text)) {
      report(node, `holds SQL: ${text.trim().slice(0, 60)}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(tree);
  return problems;
}

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .map((entry) => join(folder, entry))
    .filter((file) => /\.([cm]?ts|[cm]?js)$/.test(file) && !file.endsWith('.d.ts'))
    .filter((file) => !file.startsWith(OWNER) && !/\.spec\.ts$/.test(file))
    .filter((file) => !file.split(/[\\/]/).includes('node_modules'));
}

describe('the store boundary', () => {
  it('finds no store driver and no SQL outside libs/isolation', () => {
    const files = SCANNED.flatMap(sourceFiles);
    const problems = files.flatMap((file) =>
      boundaryProblems(relative(ROOT, join(ROOT, file)), readFileSync(join(ROOT, file), 'utf8')),
    );
    expect(problems.map((p) => `${p.file}:${p.line} ${p.problem}`)).toEqual([]);
    // Control: the scan read the gateway, not an empty folder.
    expect(files).toContain(join('apps', 'gateway', 'src', 'gateway.ts'));
  });

  it('reports driver imports and SQL in any of their forms, and not prose', () => {
    const source = [
      "import pg from 'pg';",
      "export { Redis } from 'ioredis';",
      "const qdrant = await import('@qdrant/js-client-rest');",
      "const falkor = require('falkordb');",
      "const read = 'SELECT status FROM tenants WHERE id = $1';",
      'const write = `INSERT INTO documents (id) VALUES (${id})`;',
      "const lock = 'SELECT pg_advisory_lock(1)';",
      "const message = 'Delete from every store, then select the next one';",
      "import { z } from 'zod';",
    ].join('\n');
    expect(boundaryProblems('x.ts', source).map((p) => p.line)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(boundaryProblems('x.mjs', "import pg from 'pg';").length).toBe(1);
  });
});
