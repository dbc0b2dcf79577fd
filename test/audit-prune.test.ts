import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  AuditCheckpointer,
  AuditScope,
  AuditTrail,
  ExportSigner,
  InteractionLog,
} from '@isogate/audit';
import { AuditEventsRepository, TenantContext } from '@isogate/isolation';
import { requireTestEnv, testConfig } from './support/env.js';
import { freshId, seedTenantRow, testPool, testPools } from './support/db.js';
import { api } from './support/api.js';
import { chainEvents, scoped } from './support/audit.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';

const dir = mkdtempSync(join(tmpdir(), 'isogate-prune-'));
const DAY = 86_400_000;

const CLI = 'dist/apps/gateway/src/audit/prune-cli.js';

/** Runs the owner-side prune CLI, as `npm run audit:prune` does (built), on the test database. */
function prune(...args: string[]): { status: number | null; out: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      NODE_ENV: 'test',
      NODE_OPTIONS: '',
      DATABASE_ADMIN_URL: requireTestEnv('TEST_DATABASE_ADMIN_URL'),
      AUDIT_SIGNING_KEY_FILE: testConfig().audit.signingKeyFile,
    },
  });
  return { status: run.status, out: run.stdout + run.stderr };
}

describe('audit: retention (owner-side pruning at a signed checkpoint)', () => {
  let idp: TestIdentityProvider;
  let gateway: RunningGateway;
  let checkpointer: AuditCheckpointer;
  let operator: string;
  const owner = testPool('owner');
  const gatewayRole = testPool('gateway');
  const gatewayPools = testPools('gateway');
  const superuser = testPool('superuser');
  const msp = freshId('msp');
  /** A second writer whose clock is three days behind: events that retention already covers. */
  const past = new AuditTrail(new AuditEventsRepository(gatewayPools), {
    clock: () => new Date(Date.now() - 3 * DAY),
  });

  /** Appends one event through `trail`, with an interaction recorded by the gateway's log. */
  const append = async (trail: AuditTrail, tenant: string, prompt?: string) => {
    const scope = new AuditScope();
    const context = {
      kind: 'tenant',
      tenantId: tenant,
      subject: 'u',
      roles: ['user'],
      requestId: `r-${randomUUID()}`,
    } as const;
    if (prompt !== undefined) {
      const log = gateway.app.get(InteractionLog);
      await TenantContext.run(context, () =>
        AuditScope.run(scope, () =>
          log.record({
            kind: 'chat',
            prompt,
            chunks: [],
            answer: 'a',
            model: 'm',
            tokens_in: 1,
            tokens_out: 1,
          }),
        ),
      );
    }
    const draft = {
      id: scope.eventId,
      actor: 'u',
      roles: ['user'],
      action: 'POST /v1/chat/completions',
      resource: '/v1/chat/completions',
      outcome: 'ok',
      status: 200,
      request_id: context.requestId,
      details: scope.details,
    } as const;
    await trail.append({ kind: 'tenant', tenantId: tenant }, draft, scope.interactions);
  };
  const verify = async (tenant: string) => {
    const auditor = await idp.token({ tenant_id: tenant, roles: ['auditor'] });
    return (await api(gateway.url, auditor, 'GET', '/v1/audit/verify')).body;
  };
  const seqs = async (tenant: string) =>
    (await chainEvents(owner, { tenantId: tenant })).map((e) => Number(e.seq));
  const tamper = (sql: string, values: unknown[]) =>
    scoped(superuser, {}, async (c) => {
      await c.query('SET LOCAL session_replication_role = replica');
      await c.query(sql, values);
    });

  // The CLI runs from the build, like `npm run audit:prune`; building takes a while.
  beforeAll(() => {
    execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'pipe' });
  }, 180_000);
  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    gateway = await startGateway(
      testConfig({ ...idp.env, AUDIT_ARCHIVE_URL: `file://${join(dir, 'archive')}` }),
    );
    checkpointer = gateway.app.get(AuditCheckpointer);
    operator = await idp.token({ msp_id: msp, roles: ['operator'] });
  });
  afterAll(async () => {
    await gateway.close();
    await idp.close();
    await Promise.all([owner.end(), gatewayRole.end(), superuser.end(), gatewayPools.close()]);
  });

  it('is the owner’s alone: the gateway role may not call the retention functions', async () => {
    for (const sql of [
      "SELECT audit_prune('x-none', 1)",
      "SELECT audit_expire_interactions('x-none')",
      "SELECT audit_retention_days('x-none')",
    ])
      await expect(gatewayRole.query(sql)).rejects.toMatchObject({ code: '42501' });
    // Control: the owner may (and is refused here for want of a checkpoint, not of a right).
    await expect(owner.query("SELECT audit_prune('x-none', 1)")).rejects.toThrow(
      /no periodic checkpoint/,
    );
  });

  it('answers a bad call with its usage and exit code 2, before connecting to anything', () => {
    for (const [args, message] of [
      [['--before', 'soon'], /--before is not a date/],
      [['--tenant', '../x'], /--tenant is not a tenant id/],
      [['--tenants', 'x'], /Unknown option '--tenants'/],
    ] as const) {
      const run = prune(...args);
      expect(run).toMatchObject({ status: 2 });
      expect(run.out).toMatch(message);
      expect(run.out).toMatch(/usage: npm run audit:prune/);
    }
  });

  it('prunes a prefix past retention at its archived checkpoint; verification starts there; tampering is still caught', async () => {
    const tenant = freshId('prn');
    const created = await api(gateway.url, operator, 'POST', '/v1/tenants', {
      id: tenant,
      name: tenant,
      retention_days: 1,
    });
    expect(created.status).toBe(201);
    for (let i = 0; i < 4; i += 1)
      await append(past, tenant, i < 2 ? `old prompt ${i}` : undefined);
    expect((await checkpointer.checkpointTenant(tenant)).map((c) => c.seq)).toEqual([4]);
    await append(past, tenant); // seq 5, old but after the checkpoint: it stays
    await append(gateway.app.get(AuditTrail), tenant, 'recent prompt'); // seq 6
    const user = await idp.token({ tenant_id: tenant, roles: ['user'] });
    for (let i = 0; i < 2; i += 1) await api(gateway.url, user, 'GET', '/v1/models');
    expect((await checkpointer.checkpointTenant(tenant)).map((c) => c.seq)).toEqual([8]);

    // The owner cannot cut without a prune checkpoint, nor where no checkpoint is.
    await expect(owner.query('SELECT audit_prune($1, 4)', [tenant])).rejects.toThrow(
      /no prune checkpoint/,
    );
    await expect(owner.query('SELECT audit_prune($1, 3)', [tenant])).rejects.toThrow(
      /no periodic checkpoint/,
    );
    // --before earlier than the events, and a dry run: nothing changes.
    const early = prune(
      '--tenant',
      tenant,
      '--before',
      new Date(Date.now() - 4 * DAY).toISOString(),
    );
    expect(early).toMatchObject({ status: 0 });
    expect(early.out).not.toMatch(/pruned/);
    const dry = prune('--tenant', tenant, '--dry-run');
    expect(dry.out).toMatch(new RegExp(`would prune ${tenant}: seq 1\\.\\.4 \\(4 events\\)`));
    expect(await seqs(tenant)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    const done = prune('--tenant', tenant);
    expect(done.status).toBe(0);
    expect(done.out).toMatch(new RegExp(`pruned ${tenant}: seq 1\\.\\.4 \\(4 events\\)`));
    expect(done.out).toMatch(new RegExp(`expired ${tenant}: content of 2 interaction`));
    expect(await seqs(tenant)).toEqual([5, 6, 7, 8]);
    expect(await verify(tenant)).toMatchObject({ valid: true, first_broken_seq: null });

    // Retention removed the old content and kept its hashes; the recent interaction is whole.
    const auditor = await idp.token({ tenant_id: tenant, roles: ['auditor'] });
    const listed = await api<{ data: { content: unknown; content_sha256: string }[] }>(
      gateway.url,
      auditor,
      'GET',
      '/v1/audit/interactions',
    );
    expect(listed.body.data).toHaveLength(3);
    expect(listed.body.data.map((i) => i.content === null)).toEqual([true, true, false]);
    for (const i of listed.body.data) expect(i.content_sha256).toMatch(/^[0-9a-f]{64}$/);

    // The export starts after the cut and verifies offline, anchored to the archived checkpoint.
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, gateway.app.get(ExportSigner).publicKey().pem);
    const exported = await fetch(`${gateway.url}/v1/audit/export`, {
      headers: { authorization: `Bearer ${auditor}` },
    });
    const file = join(dir, `${tenant}.jsonl`);
    writeFileSync(file, Buffer.from(await exported.arrayBuffer()));
    const checkpointFile = join(
      dir,
      'archive',
      tenant,
      '0000000000000001-0000000000000004.checkpoint.json',
    );
    const offline = spawnSync(
      'node',
      ['scripts/audit-verify.mjs', file, '--public-key', keyFile, '--checkpoint', checkpointFile],
      { encoding: 'utf8' },
    );
    expect(offline.stdout).toMatch(/^OK: .*seq 5\.\..*anchored to the checkpoint at seq 4/);

    await tamper(`UPDATE audit_events SET actor = 'mallory' WHERE tenant_id = $1 AND seq = 7`, [
      tenant,
    ]);
    expect(await verify(tenant)).toMatchObject({ valid: false, first_broken_seq: 7 });
    await tamper('DELETE FROM audit_events WHERE tenant_id = $1 AND seq = 5', [tenant]);
    expect(await verify(tenant)).toMatchObject({ valid: false, first_broken_seq: 5 });
    await api(gateway.url, operator, 'DELETE', `/v1/tenants/${tenant}`);
  });

  it('needs a checkpoint at the cut and the end of retention (control: the same chain, signed and old, is pruned)', async () => {
    const unsigned = freshId('prn');
    const young = freshId('prn');
    const signed = freshId('prn');
    for (const t of [unsigned, young, signed]) await seedTenantRow(owner, t, msp);
    await scoped(owner, { mspId: msp }, (c) =>
      c.query('UPDATE tenants SET retention_days = 1 WHERE id = ANY($1)', [[unsigned, signed]]),
    );
    for (const t of [unsigned, young, signed]) for (let i = 0; i < 3; i += 1) await append(past, t);
    await checkpointer.checkpointTenant(young); // retention 2190 days: too young to go
    await checkpointer.checkpointTenant(signed);
    for (const t of [unsigned, young, signed]) {
      const run = prune('--tenant', t);
      expect(run.status).toBe(0);
    }
    expect(await seqs(unsigned)).toEqual([1, 2, 3]);
    expect(await seqs(young)).toEqual([1, 2, 3]);
    expect(await seqs(signed)).toEqual([]);
    expect(await verify(signed)).toMatchObject({ valid: true });
  });

  it('refuses to prune a chain that does not verify up to the cut', async () => {
    const tenant = freshId('prn');
    await seedTenantRow(owner, tenant, msp);
    await scoped(owner, { mspId: msp }, (c) =>
      c.query('UPDATE tenants SET retention_days = 1 WHERE id = $1', [tenant]),
    );
    for (let i = 0; i < 3; i += 1) await append(past, tenant);
    await checkpointer.checkpointTenant(tenant);
    await tamper(`UPDATE audit_events SET actor = 'mallory' WHERE tenant_id = $1 AND seq = 2`, [
      tenant,
    ]);
    const run = prune('--tenant', tenant);
    expect(run.status).toBe(1);
    expect(run.out).toMatch(/broken at seq 2/);
    expect(await seqs(tenant)).toEqual([1, 2, 3]);
  });
});
