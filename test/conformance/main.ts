// The isolation conformance suite, from the command line:
//   npm run conformance                      # local stack, in-process gateway, test LLM
//   npm run conformance -- --url https://gw.example --tokens tokens.json \
//     [--operator-token-a <jwt> --operator-token-b <jwt>] [--keep] [--json report.json]
// Prints a table and `N passed, M failed`; exits 0 when every case passed, 1 when one failed
// (or the run could not complete), 2 on bad arguments.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { remoteSpec } from './remote.js';
import { runConformance, type ConformanceTarget } from './run.js';

const USAGE = `usage: npm run conformance [-- options]
  (no --url)                  run against the local stack: starts it if needed, an in-process
                              gateway and a recording test LLM; also scans logs, LLM and stores
  --url <base url>            run against a deployment (its logs, LLM and stores are skipped)
  --tokens <file>             remote: JSON with tenant tokens (see README, "Conformance suite")
  --operator-token-a <jwt>    remote: operator of MSP A (or ISOGATE_OPERATOR_TOKEN_A, or the file)
  --operator-token-b <jwt>    remote: operator of MSP B (or ISOGATE_OPERATOR_TOKEN_B, or the file)
  --keep                      keep the run's tenants instead of deleting them
  --json <file>               also write every result, untruncated, as JSON`;

function usage(message: string): never {
  process.stderr.write(`conformance: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function target(values: Record<string, string | boolean | undefined>): ConformanceTarget {
  const url = values.url as string | undefined;
  const tokens = values.tokens as string | undefined;
  if (url === undefined) {
    if (tokens !== undefined || values['operator-token-a'] || values['operator-token-b']) {
      usage('--tokens and --operator-token-* need --url');
    }
    return { mode: 'local' };
  }
  if (!/^https?:\/\/[^/]+/.test(url)) usage('--url must be an http(s) URL');
  if (tokens === undefined) usage('--url needs --tokens <file>');
  try {
    const spec = remoteSpec({
      tokensFile: tokens,
      operatorA:
        (values['operator-token-a'] as string | undefined) ?? process.env.ISOGATE_OPERATOR_TOKEN_A,
      operatorB:
        (values['operator-token-b'] as string | undefined) ?? process.env.ISOGATE_OPERATOR_TOKEN_B,
    });
    return { mode: 'remote', url, spec };
  } catch (error) {
    return usage((error as Error).message);
  }
}

function parse() {
  try {
    return parseArgs({
      options: {
        url: { type: 'string' },
        tokens: { type: 'string' },
        'operator-token-a': { type: 'string' },
        'operator-token-b': { type: 'string' },
        keep: { type: 'boolean', default: false },
        json: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      allowPositionals: false,
    }).values;
  } catch (error) {
    return usage((error as Error).message);
  }
}

async function main(): Promise<number> {
  const values = parse();
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const chosen = target(values);
  const report = await runConformance({
    target: chosen,
    keep: values.keep,
    progress: (message) => process.stderr.write(`conformance: ${message}\n`),
  });
  if (values.json !== undefined) {
    writeFileSync(
      values.json,
      `${JSON.stringify({ results: report.results, passed: report.passed, failed: report.failed }, null, 2)}\n`,
    );
  }
  process.stdout.write(`${report.text}\n`);
  return report.failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `conformance: the run could not complete: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  },
);
