import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { fuzzRequest, fuzzRoutes } from './support/fuzz-requests.js';
import { countByRoute, distinctProblems } from './support/fuzz-runner.js';
import { FuzzSession } from './support/fuzz-session.js';

/** Fixed, so a failure here is a failure on every machine (`npm run bench:fuzz` varies it). */
const SEED = 20_260_611;
const RUNS = 300;

/**
 * Generated requests against every route (bench/fuzz.ts sends many more): whatever comes in,
 * the gateway answers without a 5xx and every 4xx in the API's error shape; nothing changes in
 * a tenant the caller cannot reach (the control tenant, under another MSP, whose id and
 * document ids the generator puts everywhere), nor in the fuzzed tenant unless a request was
 * accepted. Every request is sent and judged, and all distinct problems are reported at once.
 */
describe('bad input: seeded fuzzing of every route', () => {
  let session: FuzzSession;

  beforeAll(async () => {
    session = await FuzzSession.open();
  });
  afterAll(async () => {
    await session?.close();
  });

  it('generates requests for every route of the route snapshot', () => {
    const snapshot = readFileSync(
      new URL('./__snapshots__/route-permissions.test.ts.snap', import.meta.url),
      'utf8',
    );
    const routes = [...snapshot.matchAll(/"(GET|POST|PATCH|PUT|DELETE)\s+(\/\S*)/g)].map(
      ([, method, path]) => `${method} ${path}`,
    );
    const fuzzed = new Set(fuzzRoutes(session.targets).map((r) => `${r.method} ${r.template}`));
    expect(routes.length).toBeGreaterThan(10);
    expect(routes.filter((route) => !fuzzed.has(route))).toEqual([]);
  });

  it(`answers ${RUNS} generated requests (seed ${SEED}) without a 5xx, in the error shape, changing nothing it may not`, async () => {
    const requests = fc.sample(fuzzRequest(session.targets), { seed: SEED, numRuns: RUNS });
    const results = await session.run(requests);
    process.stdout.write(`fuzz (seed ${SEED}): ${JSON.stringify(countByRoute(results))}\n`);
    const found = {
      answers: distinctProblems(results),
      invariants: await session.invariantProblems(results),
    };
    expect(found).toEqual({ answers: [], invariants: [] });
    // Control: the generated traffic is not refused wholesale (say, by broken credentials),
    // so "changing nothing it may not" was tested against requests that did change things.
    const admitted = results.filter((r) => r.status >= 200 && r.status < 300);
    expect(admitted.length).toBeGreaterThan(RUNS / 20);
  });
});
