import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  AuditCheckpointer,
  AuditTrail,
  ExportSigner,
  FileArchive,
  type CheckpointPolicy,
} from '@isogate/audit';
import { AuditCheckpointsRepository, AuditEventsRepository } from '@isogate/isolation';
import { testConfig } from './support/env.js';
import { freshId, seedTenantRow, testPool, testPools } from './support/db.js';
import { api } from './support/api.js';
import { chainEvents, scoped } from './support/audit.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';

const dir = mkdtempSync(join(tmpdir(), 'isogate-archive-'));
const archiveDir = join(dir, 'archive');
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The offline verifier on an archived segment and its checkpoint. */
function verifySegment(segment: string, keyFile: string): { status: number | null; out: string } {
  const checkpoint = segment.replace(/\.jsonl$/, '.checkpoint.json');
  const run = spawnSync(
    'node',
    ['scripts/audit-verify.mjs', segment, '--checkpoint', checkpoint, '--public-key', keyFile],
    { encoding: 'utf8' },
  );
  return { status: run.status, out: run.stdout + run.stderr };
}

describe('audit: signed checkpoints and the archive (file://)', () => {
  let idp: TestIdentityProvider;
  let gateway: RunningGateway;
  let checkpointer: AuditCheckpointer;
  let signer: ExportSigner;
  let keyFile: string;
  const owner = testPool('owner');
  const gatewayPools = testPools('gateway');
  const superuser = testPool('superuser');
  const msp = freshId('msp');

  /** Another checkpointer on the same archive, as a second gateway process would run it. */
  const checkpointerWith = (policy: CheckpointPolicy) =>
    new AuditCheckpointer(
      {
        checkpoints: new AuditCheckpointsRepository(gatewayPools),
        signer,
        archive: new FileArchive(archiveDir),
        log: silent,
      },
      policy,
    );
  const tenantWithEvents = async (events: number) => {
    const tenant = freshId('arc');
    await seedTenantRow(owner, tenant, msp);
    await addEvents(tenant, events);
    return tenant;
  };
  const addEvents = async (tenant: string, events: number) => {
    const user = await idp.token({ tenant_id: tenant, roles: ['user'] });
    for (let i = 0; i < events; i += 1) await api(gateway.url, user, 'GET', '/v1/models');
  };
  const checkpointRows = (tenant: string) =>
    scoped(
      owner,
      { tenantId: tenant },
      async (c) =>
        (
          await c.query<{
            seq: string;
            kind: string;
            signature: string;
            archive_key: string | null;
          }>('SELECT seq, kind, signature, archive_key FROM audit_checkpoints ORDER BY seq, kind')
        ).rows,
    );
  const archived = (tenant: string) => {
    try {
      return readdirSync(join(archiveDir, tenant)).sort();
    } catch {
      return [];
    }
  };

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    gateway = await startGateway(
      testConfig({ ...idp.env, AUDIT_ARCHIVE_URL: `file://${archiveDir}` }),
    );
    checkpointer = gateway.app.get(AuditCheckpointer);
    signer = gateway.app.get(ExportSigner);
    keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, signer.publicKey().pem);
  });
  afterAll(async () => {
    await gateway.close();
    await idp.close();
    await Promise.all([owner.end(), superuser.end(), gatewayPools.close()]);
  });

  it('signs a checkpoint and archives its segment; consecutive segments chain and verify offline', async () => {
    const tenant = await tenantWithEvents(5);
    const [first] = await checkpointer.checkpointTenant(tenant);
    expect(first).toMatchObject({ tenant_id: tenant, first_seq: 1, seq: 5 });
    const events = await chainEvents(owner, { tenantId: tenant });
    expect(first?.head_hash).toBe(events[4]?.hash);
    const segment = readFileSync(join(archiveDir, first?.archive_key as string), 'utf8');
    expect(
      segment
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { hash: string }).hash),
    ).toEqual(events.map((e) => e.hash));
    await addEvents(tenant, 3);
    const [second] = await checkpointer.checkpointTenant(tenant);
    expect(second).toMatchObject({ first_seq: 6, seq: 8 });
    expect(archived(tenant)).toEqual([
      '0000000000000001-0000000000000005.checkpoint.json',
      '0000000000000001-0000000000000005.jsonl',
      '0000000000000006-0000000000000008.checkpoint.json',
      '0000000000000006-0000000000000008.jsonl',
    ]);
    expect((await checkpointRows(tenant)).map((r) => [Number(r.seq), r.kind])).toEqual([
      [5, 'periodic'],
      [8, 'periodic'],
    ]);
    for (const c of [first, second]) {
      const result = verifySegment(join(archiveDir, c?.archive_key as string), keyFile);
      expect(result.out).toMatch(/^OK: segment/);
      expect(result.status).toBe(0);
    }
    // A segment whose bytes were changed no longer verifies against its checkpoint.
    const copy = join(dir, `${tenant}-changed.jsonl`);
    writeFileSync(copy, segment.replace('"status":200', '"status":201'));
    writeFileSync(
      copy.replace(/\.jsonl$/, '.checkpoint.json'),
      readFileSync(
        join(archiveDir, (first?.archive_key as string).replace(/\.jsonl$/, '.checkpoint.json')),
      ),
    );
    expect(verifySegment(copy, keyFile)).toMatchObject({ status: 1 });
    // Nothing new: nothing written.
    expect(await checkpointer.checkpointTenant(tenant)).toEqual([]);
  });

  it('checkpoints only the chains that are due, by count or by age, in one pass', async () => {
    const busy = await tenantWithEvents(4);
    const quiet = await tenantWithEvents(1);
    const old = freshId('arc');
    await seedTenantRow(owner, old, msp);
    const hourAgo = new AuditTrail(new AuditEventsRepository(gatewayPools), {
      clock: () => new Date(Date.now() - 3_600_000),
    });
    await hourAgo.append(
      { kind: 'tenant', tenantId: old },
      {
        id: randomUUID(),
        actor: 'a',
        roles: ['user'],
        action: 'GET /v1/models',
        resource: '/v1/models',
        outcome: 'ok',
        status: 200,
        request_id: 'r-old',
        details: {},
      },
    );
    const byCount = checkpointerWith({ everyEvents: 3, intervalSeconds: 0 });
    const only = [busy, quiet, old];
    expect((await byCount.runOnce({ only })).map((c) => c.tenant_id)).toEqual([busy]);
    expect(await byCount.runOnce({ only })).toEqual([]);
    const byAge = checkpointerWith({ everyEvents: 0, intervalSeconds: 600 });
    expect((await byAge.runOnce({ only })).map((c) => c.tenant_id)).toEqual([old]);
  });

  it('completes a checkpoint whose database row failed, with the archived range: no duplicate, no gap', async () => {
    const tenant = await tenantWithEvents(5);
    const fn = `fail_${tenant.replace(/-/g, '_')}`;
    await superuser.query(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      IF NEW.tenant_id = '${tenant}' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$`);
    await superuser.query(
      `CREATE TRIGGER ${fn} BEFORE INSERT ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION ${fn}()`,
    );
    try {
      await expect(checkpointer.checkpointTenant(tenant)).rejects.toThrow(/refused/);
    } finally {
      await superuser.query(`DROP TRIGGER ${fn} ON audit_checkpoints`);
      await superuser.query(`DROP FUNCTION ${fn}()`);
    }
    expect(await checkpointRows(tenant)).toEqual([]);
    const stem = '0000000000000001-0000000000000005';
    expect(archived(tenant)).toEqual([`${stem}.checkpoint.json`, `${stem}.jsonl`]);
    const archivedCheckpoint = JSON.parse(
      readFileSync(join(archiveDir, tenant, `${stem}.checkpoint.json`), 'utf8'),
    ) as { signature: string };
    await addEvents(tenant, 2);
    const written = await checkpointer.checkpointTenant(tenant);
    expect(written.map((c) => [c.first_seq, c.seq])).toEqual([
      [1, 5],
      [6, 7],
    ]);
    const rows = await checkpointRows(tenant);
    expect(rows[0]?.signature).toBe(archivedCheckpoint.signature);
    expect(archived(tenant)).toHaveLength(4);
  });

  it('lets one process checkpoint a chain at a time', async () => {
    const tenant = await tenantWithEvents(6);
    const policy = { everyEvents: 1, intervalSeconds: 0 };
    const results = await Promise.all([
      checkpointerWith(policy).checkpointTenant(tenant),
      checkpointerWith(policy).checkpointTenant(tenant),
      checkpointer.checkpointTenant(tenant),
    ]);
    expect(results.flat().map((c) => [c.first_seq, c.seq])).toEqual([[1, 6]]);
    expect(await checkpointRows(tenant)).toHaveLength(1);
    expect(archived(tenant)).toHaveLength(2);
  });

  it('never signs a broken chain (control: it signs the intact one)', async () => {
    const broken = await tenantWithEvents(4);
    const intact = await tenantWithEvents(4);
    await scoped(superuser, {}, async (c) => {
      await c.query('SET LOCAL session_replication_role = replica');
      await c.query(`UPDATE audit_events SET actor = 'mallory' WHERE tenant_id = $1 AND seq = 2`, [
        broken,
      ]);
    });
    await expect(checkpointer.checkpointTenant(broken)).rejects.toThrow(/broken at seq 2/);
    expect(await checkpointRows(broken)).toEqual([]);
    expect(archived(broken)).toEqual([]);
    // Control: the intact chain is checkpointed and archived (checkpoint and segment).
    expect(await checkpointer.checkpointTenant(intact)).toHaveLength(1);
    expect(archived(intact)).toHaveLength(2);
  });
});
