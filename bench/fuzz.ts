// Bad input at volume: fast-check generated requests against every route of a gateway on the
// local stack (malformed JSON, wrong types, huge and deeply nested bodies, unicode edge cases,
// traversal in ids, SQL/Cypher/Qdrant-filter injection, oversized headers and tokens, forged
// tokens). Prints counts by status and by route, every kind of contract break (a 5xx, a 4xx not
// in the error shape, no answer), and the invariants on the control and fuzzed tenants.
// test/fuzz.test.ts runs the same generator with a fixed seed and a few hundred requests.
//   npm run bench:fuzz [-- --requests 10000 --seed 1234 --concurrency 8]
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { fuzzRequest } from '../test/support/fuzz-requests.js';
import { countByRoute, distinctProblems, type FuzzResult } from '../test/support/fuzz-runner.js';
import { FuzzSession } from '../test/support/fuzz-session.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
  },
});
const total = Number(values.requests);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2_147_483_647;
const concurrency = Number(values.concurrency);
const CHUNK = 500;

const session = await FuzzSession.open();
let exitCode: number;
try {
  // Generated in chunks (seed, seed + 1 ...): some bodies are megabytes, 10,000 at once is not.
  const results: FuzzResult[] = [];
  const started = performance.now();
  for (let chunk = 0; results.length < total; chunk += 1) {
    const numRuns = Math.min(CHUNK, total - results.length);
    const requests = fc.sample(fuzzRequest(session.targets), { seed: seed + chunk, numRuns });
    results.push(...(await session.run(requests, concurrency)));
    process.stderr.write(`  ${results.length}/${total}\n`);
  }
  const seconds = (performance.now() - started) / 1_000;

  const byStatus: Record<string, number> = {};
  for (const { status } of results) byStatus[status] = (byStatus[status] ?? 0) + 1;
  const v1 = results.filter((r) => r.request.path.startsWith('/v1') && r.status !== 0);
  const unaudited = v1.filter((r) => !r.audited);
  const unauditedByStatus: Record<string, number> = {};
  for (const { status } of unaudited)
    unauditedByStatus[status] = (unauditedByStatus[status] ?? 0) + 1;

  console.log(
    `\nfuzz: ${total} requests, seed ${seed} (chunks of ${CHUNK}: seed, seed + 1, ...), ${concurrency} at a time, ${seconds.toFixed(1)} s (${(total / seconds).toFixed(0)} requests/s)`,
  );
  console.log(`chat route ${session.targets.chat ? 'fuzzed' : 'absent (not fuzzed)'}`);
  console.log(`\nby status: ${JSON.stringify(byStatus)}`);
  console.log('\nby route (status: count):');
  for (const [route, counts] of Object.entries(countByRoute(results))) {
    const cells = Object.entries(counts).map(([status, n]) => `${status}: ${n}`);
    console.log(`  ${route.padEnd(34)} ${cells.join('  ')}`);
  }
  console.log(
    `\n/v1 answers without an x-audit-event-id: ${unaudited.length} of ${v1.length} ${JSON.stringify(unauditedByStatus)}`,
  );
  const retried = results.filter((r) => r.retried).length;
  console.log(`no answer on a kept-alive connection, answered on a fresh one: ${retried}`);
  const problems = distinctProblems(results);
  const invariants = await session.invariantProblems(results);
  console.log(
    `\ncontract breaks (5xx, 4xx not in the error shape, no answer): ${problems.length} kinds`,
  );
  for (const problem of problems) console.log(`  - ${problem}`);
  console.log(
    `invariants (control tenant untouched, fuzzed tenant explained, chains verify): ${invariants.length === 0 ? 'hold' : 'BROKEN'}`,
  );
  for (const problem of invariants) console.log(`  - ${problem}`);
  exitCode = problems.length + invariants.length > 0 ? 1 : 0;
} finally {
  await session.close();
}
process.exit(exitCode);
