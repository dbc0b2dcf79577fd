import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintSpec } from './conformance/local.js';
import { remoteSpec } from './conformance/remote.js';
import { runConformance, type ConformanceReport } from './conformance/run.js';
import { testConfig } from './support/env.js';
import { startGateway, type RunningGateway } from './support/gateway.js';

/** The failed rows of a report, readable in a test failure. */
const failures = (report: ConformanceReport) =>
  report.results
    .filter((r) => r.outcome === 'failed')
    .map((r) => `${r.name} [${r.boundary}]: ${r.detail}`);

// The suite `npm run conformance` runs, in both of its modes. Every case of it carries its own
// control, so a broken setup fails here rather than passing quietly.
describe('isolation conformance suite', () => {
  it('passes every case against the local stack (logs, LLM requests and stores scanned)', async () => {
    const report = await runConformance({ target: { mode: 'local' } });
    expect(failures(report)).toEqual([]);
    expect(report.results.some((r) => r.outcome === 'skipped')).toBe(false);
    // An empty report would pass the lines above: the suite has over a hundred cases.
    expect(report.passed).toBeGreaterThan(100);
    expect(report.text).toMatch(new RegExp(`\\n${report.passed} passed, 0 failed$`));
  }, 600_000);

  describe('against a deployment (remote mode, tenant tokens from a file)', () => {
    let gateway: RunningGateway;
    let dir: string;

    beforeAll(async () => {
      gateway = await startGateway(testConfig());
      dir = mkdtempSync(join(tmpdir(), 'isogate-conformance-'));
    });
    afterAll(async () => {
      rmSync(dir, { recursive: true, force: true });
      await gateway.close();
    });

    it('passes every case it can reach and skips the ones it cannot', async () => {
      const spec = await mintSpec(testConfig(), randomBytes(3).toString('hex'));
      const file = join(dir, 'tokens.json');
      writeFileSync(file, JSON.stringify({ operators: spec.operators, tenants: spec.tenants }));
      const given = remoteSpec({ tokensFile: file, operatorA: undefined, operatorB: undefined });
      const report = await runConformance({
        target: { mode: 'remote', url: gateway.url, spec: given },
      });
      expect(failures(report)).toEqual([]);
      const skipped = report.results.filter((r) => r.outcome === 'skipped');
      expect(skipped.map((r) => r.name)).toEqual(
        expect.arrayContaining(['stores: PostgreSQL', 'sweep: gateway logs']),
      );
      expect(skipped.every((r) => r.why === 'remote')).toBe(true);
    }, 600_000);

    it('refuses a tokens file whose tokens do not match their tenants', async () => {
      const spec = await mintSpec(testConfig(), randomBytes(3).toString('hex'));
      const file = join(dir, 'swapped.json');
      const tenants = { ...spec.tenants, a2: { ...spec.tenants.a2, user: spec.tenants.a1.user } };
      writeFileSync(file, JSON.stringify({ operators: spec.operators, tenants }));
      expect(() =>
        remoteSpec({ tokensFile: file, operatorA: undefined, operatorB: undefined }),
      ).toThrow(/tenants\.a2\.user: needs tenant_id/);
    });
  });
});
