import type { CaseResult } from './suite.js';

const DETAIL_WIDTH = 140;

function resultCell(result: CaseResult): string {
  if (result.outcome === 'skipped') return `skipped (${result.why ?? 'n/a'})`;
  return result.outcome === 'failed' ? 'FAILED' : 'passed';
}

function cut(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= width ? flat : `${flat.slice(0, width - 1)}…`;
}

/** The results as a plain-text table: case, boundary, result, detail. */
export function formatTable(results: readonly CaseResult[]): string {
  const rows = results.map((r) => [r.name, r.boundary, resultCell(r), cut(r.detail, DETAIL_WIDTH)]);
  const header = ['case', 'boundary', 'result', 'detail'];
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w, i) => '-'.repeat(i === widths.length - 1 ? Math.min(w, 40) : w));
  return [line(header), line(rule), ...rows.map(line)].join('\n');
}

/** The last line of a run: `N passed, M failed`. */
export function summaryLine(results: readonly CaseResult[]): string {
  const passed = results.filter((r) => r.outcome === 'passed').length;
  const failed = results.filter((r) => r.outcome === 'failed').length;
  return `${passed} passed, ${failed} failed`;
}
