import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import canonicalize from 'canonicalize';
import { AuditScope, AuditTrail, InteractionLog } from '@isogate/audit';
import { TenantContext } from '@isogate/isolation';
import { testConfig } from './support/env.js';
import { freshId, seedTenantRow, testPool } from './support/db.js';
import { api } from './support/api.js';
import { chainEvents, scoped } from './support/audit.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';

const dir = mkdtempSync(join(tmpdir(), 'isogate-audit-'));

/** Runs the offline verifier; answers its exit code and output. */
function offlineVerify(file: string, keyFile: string): { status: number | null; out: string } {
  const run = spawnSync('node', ['scripts/audit-verify.mjs', file, '--public-key', keyFile], {
    encoding: 'utf8',
  });
  return { status: run.status, out: run.stdout + run.stderr };
}

describe('audit: exports, offline verification and interactions', () => {
  let idp: TestIdentityProvider;
  let gateway: RunningGateway;
  const owner = testPool('owner');
  const superuser = testPool('superuser');
  const msp = freshId('msp');
  const tenant = freshId('exp');
  let auditor: string;
  let keyFile: string;

  const download = async (path: string) => {
    const response = await fetch(`${gateway.url}${path}`, {
      headers: { authorization: `Bearer ${auditor}` },
    });
    return { response, bytes: Buffer.from(await response.arrayBuffer()) };
  };

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    gateway = await startGateway(testConfig(idp.env));
    await seedTenantRow(owner, tenant, msp);
    auditor = await idp.token({ tenant_id: tenant, roles: ['auditor'] });
    const user = await idp.token({ tenant_id: tenant, roles: ['user'] });
    for (let i = 0; i < 25; i += 1)
      await api(gateway.url, user, 'GET', i % 5 === 0 ? '/v1/nothing' : '/v1/models');
    const key = await api<{ pem: string; key_id: string; jwk: { kty: string; crv: string } }>(
      gateway.url,
      auditor,
      'GET',
      '/v1/audit/public-key',
    );
    expect(key.body.jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
    keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, key.body.pem);
  });
  afterAll(async () => {
    await gateway.close();
    await idp.close();
    await Promise.all([owner.end(), superuser.end()]);
  });

  it('exports JSONL whose manifest hash and Ed25519 signature verify with node:crypto', async () => {
    const { response, bytes } = await download('/v1/audit/export?format=jsonl');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/x-ndjson');
    const text = bytes.toString('utf8');
    const cut = text.lastIndexOf('\n', text.length - 2) + 1;
    const manifest = JSON.parse(text.slice(cut)) as Record<string, unknown>;
    const events = text
      .slice(0, cut)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; tenant_id: string });
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(new Set(events.map((e) => e.tenant_id))).toEqual(new Set([tenant]));
    expect(manifest).toMatchObject({
      tenant_id: tenant,
      count: events.length,
      first_seq: 1,
      last_seq: events.length,
    });
    expect(manifest.sha256).toBe(createHash('sha256').update(text.slice(0, cut)).digest('hex'));
    const { signature, ...unsigned } = manifest;
    const ok = verify(
      null,
      Buffer.from(canonicalize(unsigned) as string),
      createPublicKey(readFileSync(keyFile, 'utf8')),
      Buffer.from(signature as string, 'base64'),
    );
    expect(ok).toBe(true);
  });

  it('passes offline verification, and with openssl alone; one flipped byte anywhere fails it', async () => {
    const { bytes } = await download('/v1/audit/export');
    const file = join(dir, 'export.jsonl');
    writeFileSync(file, bytes);
    const good = offlineVerify(file, keyFile);
    expect(good.out).toMatch(/^OK: /);
    expect(good.status).toBe(0);

    // The README's openssl recipe: the bytes before the manifest, and the signed manifest bytes.
    const sh = (script: string) =>
      execFileSync('bash', ['-c', script], { cwd: dir, encoding: 'utf8' });
    const digest = sh(`head -n -1 export.jsonl | openssl dgst -sha256 -r | cut -d' ' -f1`).trim();
    expect(sh(`tail -n 1 export.jsonl`)).toContain(`"sha256":"${digest}"`);
    sh(
      `tail -n 1 export.jsonl | sed -E 's/,"signature":"[^"]*"//' | tr -d '\\n' > manifest.unsigned.json`,
    );
    sh(
      `tail -n 1 export.jsonl | sed -E 's/.*"signature":"([^"]*)".*/\\1/' | openssl base64 -d -A > manifest.sig`,
    );
    expect(
      sh(
        `openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in manifest.unsigned.json -sigfile manifest.sig`,
      ),
    ).toMatch(/Signature Verified Successfully/);

    const positions = new Set([0, 10, bytes.length - 2, bytes.length - 20]);
    for (let i = 0; i < 12; i += 1) positions.add(Math.floor((bytes.length * (i + 0.5)) / 12));
    for (const position of positions) {
      const flipped = Buffer.from(bytes);
      flipped[position] = (flipped[position] as number) ^ 0x01;
      const bad = join(dir, `flipped-${position}.jsonl`);
      writeFileSync(bad, flipped);
      const result = offlineVerify(bad, keyFile);
      expect({ position, status: result.status }).toEqual({ position, status: 1 });
      expect(result.out).toMatch(/FAILED/);
    }
  });

  it('names the first bad seq of a tampered export', async () => {
    const { bytes } = await download('/v1/audit/export');
    const lines = bytes.toString('utf8').split('\n');
    lines[4] = (lines[4] as string)
      .replace('"status":200', '"status":201')
      .replace('"status":404', '"status":200');
    const file = join(dir, 'tampered.jsonl');
    writeFileSync(file, lines.join('\n'));
    const result = offlineVerify(file, keyFile);
    expect(result.status).toBe(1);
    expect(result.out).toMatch(/first bad seq: 5/);
  });

  it('exports CSV whose manifest (by last_seq) hashes the same bytes; exports are audited', async () => {
    const { response, bytes } = await download('/v1/audit/export?format=csv');
    expect(response.headers.get('content-type')).toContain('text/csv');
    const lastSeq = response.headers.get('x-audit-last-seq');
    const csv = bytes.toString('utf8');
    expect(csv.split('\r\n')[0]).toBe(
      'id,seq,ts,tenant_id,msp_id,actor,roles,action,resource,outcome,status,request_id,details,prev_hash,hash',
    );
    const manifest = await api<Record<string, unknown>>(
      gateway.url,
      auditor,
      'GET',
      `/v1/audit/export/manifest?format=csv&last_seq=${lastSeq}`,
    );
    expect(manifest.status).toBe(200);
    expect(manifest.body.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(manifest.body.last_seq).toBe(Number(lastSeq));
    const exportEvent = (await chainEvents(owner, { tenantId: tenant })).find(
      (e) => e.id === response.headers.get('x-audit-event-id'),
    );
    expect(exportEvent).toMatchObject({
      action: 'GET /v1/audit/export',
      details: { export: { format: 'csv' } },
    });
  });

  it('stores interactions encrypted with the event carrying their hashes; auditors read them decrypted', async () => {
    const operator = await idp.token({ msp_id: msp, roles: ['operator'] });
    const id = freshId('int');
    expect((await api(gateway.url, operator, 'POST', '/v1/tenants', { id, name: id })).status).toBe(
      201,
    );
    const log = gateway.app.get(InteractionLog);
    const trail = gateway.app.get(AuditTrail);
    const record = async (prompt: string) => {
      const scope = new AuditScope();
      const context = {
        kind: 'tenant',
        tenantId: id,
        subject: 'u',
        roles: ['user'],
        requestId: `r-${prompt}`,
      } as const;
      const summary = await TenantContext.run(context, () =>
        AuditScope.run(scope, () =>
          log.record({
            kind: 'chat',
            prompt,
            chunks: [{ document_id: 'doc-1', chunk_index: 0, sha256: 'a'.repeat(64) }],
            answer: `answer to ${prompt}`,
            model: 'm',
            tokens_in: 10,
            tokens_out: 5,
          }),
        ),
      );
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
      return {
        summary,
        write: () => trail.append({ kind: 'tenant', tenantId: id }, draft, scope.interactions),
      };
    };
    const first = await record('secret canary prompt');
    const event = await first.write();
    expect(event.details).toMatchObject({
      interactions: [{ id: first.summary.id, content_sha256: first.summary.content_sha256 }],
    });
    const stored = await scoped(owner, { tenantId: id }, (c) =>
      c.query<{ content_enc: Buffer }>('SELECT content_enc FROM interactions'),
    );
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0]?.content_enc.toString('latin1')).not.toContain('canary');

    const auditorOfId = await idp.token({ tenant_id: id, roles: ['auditor'] });
    const listed = await api<{
      data: {
        id: string;
        content_sha256: string;
        content: { prompt: string; chunks: unknown[]; answer: string };
      }[];
    }>(gateway.url, auditorOfId, 'GET', '/v1/audit/interactions');
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(1);
    const content = listed.body.data[0]?.content;
    expect(content?.prompt).toBe('secret canary prompt');
    expect(
      createHash('sha256')
        .update(canonicalize(content) as string)
        .digest('hex'),
    ).toBe(first.summary.content_sha256);
    // Another tenant's auditor sees none of them.
    const otherAuditor = await idp.token({ tenant_id: tenant, roles: ['auditor'] });
    const other = await api<{ data: unknown[] }>(
      gateway.url,
      otherAuditor,
      'GET',
      '/v1/audit/interactions',
    );
    expect(other.body.data).toEqual([]);

    // With the audit insert made to fail, the interaction is not stored either.
    const fn = `fail_${id.replace(/-/g, '_')}`;
    await superuser.query(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      IF NEW.tenant_id = '${id}' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$`);
    await superuser.query(
      `CREATE TRIGGER ${fn} BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION ${fn}()`,
    );
    try {
      const second = await record('never stored');
      await expect(second.write()).rejects.toThrow();
    } finally {
      await superuser.query(`DROP TRIGGER ${fn} ON audit_events`);
      await superuser.query(`DROP FUNCTION ${fn}()`);
    }
    const after = await scoped(owner, { tenantId: id }, (c) =>
      c.query('SELECT id FROM interactions'),
    );
    expect(after.rows).toHaveLength(1);
    await api(gateway.url, operator, 'DELETE', `/v1/tenants/${id}`);
  });
});
