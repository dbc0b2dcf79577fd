import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { againstAll, ownRequestIds, type RunContext } from '../context.js';
import { field } from '../http.js';
import type { Tenant } from '../world.js';

const VERIFIER = resolve(process.cwd(), 'scripts/audit-verify.mjs');

/**
 * Verifies an export the way an auditor would, with the standalone verifier that does not
 * import the gateway's code (`npm run audit:verify`): chain, manifest hash and signature.
 */
function verifyOffline(jsonl: string, pem: string): { ok: boolean; output: string } {
  if (!existsSync(VERIFIER)) return { ok: false, output: 'scripts/audit-verify.mjs not found' };
  const dir = mkdtempSync(join(tmpdir(), 'isogate-conformance-'));
  try {
    writeFileSync(join(dir, 'export.jsonl'), jsonl);
    writeFileSync(join(dir, 'key.pem'), pem);
    const run = spawnSync(
      process.execPath,
      [VERIFIER, join(dir, 'export.jsonl'), '--public-key', join(dir, 'key.pem')],
      { encoding: 'utf8' },
    );
    return { ok: run.status === 0, output: `${run.stdout}${run.stderr}`.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function jsonlExport(ctx: RunContext, tenant: Tenant): Promise<void> {
  await ctx.suite.case(
    'audit: JSONL export, verified offline',
    againstAll(tenant),
    async (check) => {
      const key = await check.call(tenant.auditor, 'GET', '/v1/audit/public-key');
      check.status(key, 200);
      const exported = await check.call(tenant.auditor, 'GET', '/v1/audit/export?format=jsonl');
      if (!check.status(exported, 200)) return;
      const own = ownRequestIds(ctx, tenant);
      const lines = exported.text.split('\n').filter((line) => line !== '');
      const manifest = JSON.parse(lines.at(-1) ?? '{}') as { tenant_id?: unknown; count?: unknown };
      const events = lines
        .slice(0, -1)
        .map((line) => JSON.parse(line) as { tenant_id?: unknown; request_id?: unknown });
      check.expect(
        manifest.tenant_id === tenant.id,
        `the manifest names tenant ${String(manifest.tenant_id)}`,
      );
      const foreign = events.filter(
        (e) => e.tenant_id !== tenant.id || !own.has(String(e.request_id)),
      );
      check.expect(
        foreign.length === 0,
        `${foreign.length} exported event(s) not of ${tenant.slot}'s requests`,
      );
      check.expect(
        events.length > 0 && manifest.count === events.length,
        'the manifest count differs',
      );
      const verdict = verifyOffline(exported.text, field<string>(key, 'pem') ?? '');
      check.expect(verdict.ok, `offline verification failed: ${verdict.output.slice(0, 200)}`);
      check.note(
        `${events.length} events, all ${tenant.slot}'s; control: chain, sha256 and signature verify offline`,
      );
    },
  );
}

async function csvExport(ctx: RunContext, tenant: Tenant): Promise<void> {
  await ctx.suite.case('audit: CSV export and manifest', againstAll(tenant), async (check) => {
    const exported = await check.call(tenant.auditor, 'GET', '/v1/audit/export?format=csv');
    if (!check.status(exported, 200)) return;
    const lastSeq = exported.headers['x-audit-last-seq'] ?? '';
    const manifest = await check.call(
      tenant.auditor,
      'GET',
      `/v1/audit/export/manifest?format=csv&last_seq=${encodeURIComponent(lastSeq)}`,
    );
    check.status(manifest, 200);
    check.expect(field(manifest, 'tenant_id') === tenant.id, 'the manifest names another tenant');
    const digest = createHash('sha256').update(exported.text, 'utf8').digest('hex');
    check.expect(field(manifest, 'sha256') === digest, "the manifest sha256 is not the export's");
    const rows = exported.text
      .split('\r\n')
      .filter((r) => r !== '')
      .slice(1);
    const foreignIds = ctx.world.tenants.filter((t) => t !== tenant).map((t) => t.id);
    const foreign = rows.filter((row) => foreignIds.some((id) => row.includes(`,${id},`)));
    check.expect(foreign.length === 0, `${foreign.length} row(s) name another tenant`);
    check.note(`${rows.length} rows; control: manifest of ${tenant.slot} hashes these bytes`);
  });
}

async function verify(ctx: RunContext, tenant: Tenant): Promise<void> {
  await ctx.suite.case('audit: verify', againstAll(tenant), async (check) => {
    const report = await check.call(tenant.auditor, 'GET', '/v1/audit/verify');
    check.status(report, 200);
    check.expect(field(report, 'valid') === true, 'the chain is not valid');
    check.expect(Number(field(report, 'events')) > 0, 'no events verified');
    check.note(`valid, ${String(field(report, 'events'))} events`);
  });
}

/** Exports and verification of one tenant's trail by its own auditor. */
export async function exportCases(ctx: RunContext, tenant: Tenant): Promise<void> {
  await jsonlExport(ctx, tenant);
  await csvExport(ctx, tenant);
  await verify(ctx, tenant);
}
