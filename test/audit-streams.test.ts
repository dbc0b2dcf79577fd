import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditTrail, CHAT_STREAM_ACTIONS, ExportSigner, type AuditEvent } from '@isogate/audit';
import { testConfig } from './support/env.js';
import { freshId, seedTenantRow, testPool } from './support/db.js';
import { api } from './support/api.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';

const dir = mkdtempSync(join(tmpdir(), 'isogate-streams-'));
const digest = (c: string) => c.repeat(64);

describe('audit: streamed answers that started without completing', () => {
  let idp: TestIdentityProvider;
  let gateway: RunningGateway;
  let trail: AuditTrail;
  let keyFile: string;
  const owner = testPool('owner');
  const msp = freshId('msp');

  /** A fresh tenant with one ordinary request in its chain. */
  const tenantWithTraffic = async () => {
    const tenant = freshId('strm');
    await seedTenantRow(owner, tenant, msp);
    const user = await idp.token({ tenant_id: tenant, roles: ['user'] });
    expect((await api(gateway.url, user, 'GET', '/v1/models')).status).toBe(200);
    return tenant;
  };
  /** Appends a `chat.started` event, as a streamed chat answer does before its first byte. */
  const start = (tenant: string, requestId: string) =>
    trail.append(
      { kind: 'tenant', tenantId: tenant },
      {
        id: randomUUID(),
        actor: 'u',
        roles: ['user'],
        action: CHAT_STREAM_ACTIONS.started,
        resource: '/v1/chat/completions',
        outcome: 'ok',
        status: 200,
        request_id: requestId,
        details: {
          model: 'm',
          stream: true,
          prompt_sha256: digest('a'),
          chunks: [{ document_id: 'doc-1', chunk_index: 0, sha256: digest('b') }],
          cache: 'miss',
        },
      },
    );
  /** Appends the `chat.completed` event of `started`, as the stream's end does. */
  const complete = (
    tenant: string,
    started: AuditEvent,
    end: 'completed' | 'interrupted' | 'upstream_error',
  ) =>
    trail.append(
      { kind: 'tenant', tenantId: tenant },
      {
        id: randomUUID(),
        actor: 'u',
        roles: ['user'],
        action: CHAT_STREAM_ACTIONS.completed,
        resource: '/v1/chat/completions',
        outcome: end === 'upstream_error' ? 'error' : 'ok',
        status: 200,
        request_id: started.request_id,
        details: {
          started_event_id: started.id,
          end,
          finish_reason: end === 'completed' ? 'stop' : null,
          answer_sha256: digest('c'),
          usage: { prompt_tokens: 12, completion_tokens: end === 'completed' ? 7 : 3 },
        },
      },
    );
  const verify = async (tenant: string) => {
    const auditor = await idp.token({ tenant_id: tenant, roles: ['auditor'] });
    const response = await api<Record<string, unknown>>(
      gateway.url,
      auditor,
      'GET',
      '/v1/audit/verify',
    );
    expect(response.status).toBe(200);
    return response.body;
  };
  /** Exports the tenant's trail as JSONL and runs the offline verifier on it. */
  const offline = async (tenant: string, edit?: (lines: string[]) => void) => {
    const auditor = await idp.token({ tenant_id: tenant, roles: ['auditor'] });
    const exported = await fetch(`${gateway.url}/v1/audit/export`, {
      headers: { authorization: `Bearer ${auditor}` },
    });
    expect(exported.status).toBe(200);
    const lines = (await exported.text()).split('\n');
    edit?.(lines);
    const file = join(dir, `${tenant}-${randomUUID().slice(0, 8)}.jsonl`);
    writeFileSync(file, lines.join('\n'));
    const run = spawnSync('node', ['scripts/audit-verify.mjs', file, '--public-key', keyFile], {
      encoding: 'utf8',
    });
    return { status: run.status, out: run.stdout + run.stderr };
  };

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    gateway = await startGateway(testConfig(idp.env));
    trail = gateway.app.get(AuditTrail);
    keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, gateway.app.get(ExportSigner).publicKey().pem);
  });
  afterAll(async () => {
    await gateway.close();
    await idp.close();
    await owner.end();
  });

  it('reports a started stream without its completion apart from a chain that holds', async () => {
    const tenant = await tenantWithTraffic();
    const done = await start(tenant, `${tenant}-done`);
    const open = await start(tenant, `${tenant}-open`);
    await complete(tenant, done, 'completed');

    expect(await verify(tenant)).toEqual({
      valid: true,
      events: 4,
      head_hash: expect.any(String),
      first_broken_seq: null,
      streams: {
        started: 2,
        completed: 1,
        started_without_completed: {
          count: 1,
          request_ids: [`${tenant}-open`],
          truncated: false,
        },
      },
    });

    // The offline verifier says the same on its own line, and the export still verifies.
    const good = await offline(tenant);
    expect(good.out).toMatch(/^OK: /);
    expect(good.out).toContain(
      `\nstreams: 2 started, 1 completed, 1 started without completed: ${tenant}-open\n`,
    );
    expect(good.status).toBe(0);
    // An open stream does not hide a broken chain: one changed event still fails it.
    const tampered = await offline(tenant, (lines) => {
      lines[1] = (lines[1] as string).replace('"status":200', '"status":201');
    });
    expect(tampered.out).toMatch(/first bad seq: 2/);
    expect(tampered.status).toBe(1);

    // Once the stream ends, even with an upstream error, nothing is open any more.
    await complete(tenant, open, 'upstream_error');
    expect(await verify(tenant)).toMatchObject({
      valid: true,
      streams: {
        started: 2,
        completed: 2,
        started_without_completed: { count: 0, request_ids: [], truncated: false },
      },
    });
  });

  it('control: a tenant whose streams all completed has none open, in both verifiers', async () => {
    const tenant = await tenantWithTraffic();
    const first = await start(tenant, `${tenant}-a`);
    const second = await start(tenant, `${tenant}-b`);
    await complete(tenant, second, 'interrupted');
    await complete(tenant, first, 'completed');

    expect(await verify(tenant)).toMatchObject({
      valid: true,
      first_broken_seq: null,
      streams: {
        started: 2,
        completed: 2,
        started_without_completed: { count: 0, request_ids: [], truncated: false },
      },
    });
    const good = await offline(tenant);
    expect(good.out).toContain('\nstreams: 2 started, 2 completed, 0 started without completed\n');
    expect(good.status).toBe(0);
  });
});
