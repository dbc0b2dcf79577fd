import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { AuditCheckpointer, ExportSigner, S3Archive } from '@isogate/audit';
import { AuditCheckpointsRepository } from '@isogate/isolation';
import { testConfig } from './support/env.js';
import { freshId, seedTenantRow, testPool, testPools } from './support/db.js';
import { api } from './support/api.js';
import { chainEvents, scoped } from './support/audit.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';

const DAY = 86_400_000;
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** A request as the S3 server received it through the recording proxy. */
interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * A recording HTTP proxy in front of s3rver. s3rver has no Object Lock, so for the buckets in
 * `locked` the proxy answers GetObjectLockConfiguration as a bucket with Object Lock would;
 * every other request goes to s3rver unchanged (it stores the objects, and ignores the lock
 * headers it does not know).
 */
async function recordingProxy(target: number, locked: ReadonlySet<string>) {
  const recorded: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      recorded.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const bucket = (req.url ?? '').split(/[/?]/)[1] ?? '';
      if (req.method === 'GET' && /[?&]object-lock/.test(req.url ?? '') && locked.has(bucket)) {
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>',
        );
        return;
      }
      const forward = httpRequest(
        {
          host: '127.0.0.1',
          port: target,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    recorded,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('audit: the archive in S3 (s3rver on loopback)', () => {
  let s3rver: S3rver;
  let s3Url: string;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let direct: S3Client;
  let signer: ExportSigner;
  const owner = testPool('owner');
  const gatewayPools = testPools('gateway');
  const superuser = testPool('superuser');
  const msp = freshId('msp');
  const messages: string[] = [];
  const log = {
    info: (_: object, m: string) => messages.push(`info ${m}`),
    warn: (_: object, m: string) => messages.push(`warn ${m}`),
    error: (_: object, m: string) => messages.push(`error ${m}`),
  };
  const checkpointerOn = (bucket: string) =>
    new AuditCheckpointer(
      {
        checkpoints: new AuditCheckpointsRepository(gatewayPools),
        signer,
        archive: new S3Archive({
          client: new S3Client({
            region: 'us-east-1',
            endpoint: proxy.url,
            forcePathStyle: true,
            credentials,
          }),
          bucket,
          prefix: 'audit/',
          log,
        }),
        log,
      },
      { everyEvents: 1, intervalSeconds: 0 },
    );
  /** A tenant row (retention optional) with `events` audited requests. */
  const tenantWithEvents = async (
    gateway: RunningGateway,
    idp: TestIdentityProvider,
    events: number,
    retentionDays?: number,
  ) => {
    const tenant = freshId('s3');
    await seedTenantRow(owner, tenant, msp);
    if (retentionDays !== undefined)
      await scoped(owner, { mspId: msp }, (c) =>
        c.query('UPDATE tenants SET retention_days = $2 WHERE id = $1', [tenant, retentionDays]),
      );
    const user = await idp.token({ tenant_id: tenant, roles: ['user'] });
    for (let i = 0; i < events; i += 1) await api(gateway.url, user, 'GET', '/v1/models');
    return tenant;
  };
  const object = async (bucket: string, key: string) =>
    Buffer.from(
      await (
        await direct.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      ).Body!.transformToByteArray(),
    );
  const puts = (tenant: string) =>
    proxy.recorded.filter((r) => r.method === 'PUT' && r.url.includes(`/${tenant}/`));

  let idp: TestIdentityProvider;
  let gateway: RunningGateway;
  const env = { ...process.env };

  beforeAll(async () => {
    s3rver = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory: mkdtempSync(join(tmpdir(), 'isogate-s3-')),
    });
    const { port } = await s3rver.run();
    s3Url = `http://127.0.0.1:${port}`;
    proxy = await recordingProxy(port, new Set(['locked']));
    direct = new S3Client({
      region: 'us-east-1',
      endpoint: s3Url,
      forcePathStyle: true,
      credentials,
    });
    for (const Bucket of ['plain', 'locked', 'gateway'])
      await direct.send(new CreateBucketCommand({ Bucket }));
    // The gateway's S3 client takes its credentials from the AWS SDK's own chain.
    process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
    idp = await TestIdentityProvider.start();
    gateway = await startGateway(
      testConfig({
        ...idp.env,
        AUDIT_ARCHIVE_URL: 's3://gateway/isogate/audit',
        AUDIT_ARCHIVE_S3_ENDPOINT: s3Url,
        AUDIT_ARCHIVE_S3_REGION: 'us-east-1',
      }),
    );
    signer = gateway.app.get(ExportSigner);
  });
  afterAll(async () => {
    process.env = env;
    await gateway.close();
    await idp.close();
    await proxy.close();
    await s3rver.close();
    direct.destroy();
    await Promise.all([owner.end(), superuser.end(), gatewayPools.close()]);
  });

  it('archives through the configured s3:// URL, endpoint and the SDK credential chain', async () => {
    const tenant = await tenantWithEvents(gateway, idp, 3);
    const [written] = await gateway.app.get(AuditCheckpointer).checkpointTenant(tenant);
    expect(written?.archive_key).toBe(`${tenant}/0000000000000001-0000000000000003.jsonl`);
    const listed = await direct.send(
      new ListObjectsV2Command({ Bucket: 'gateway', Prefix: `isogate/audit/${tenant}/` }),
    );
    expect(listed.Contents?.map((o) => o.Key).sort()).toEqual([
      `isogate/audit/${tenant}/0000000000000001-0000000000000003.checkpoint.json`,
      `isogate/audit/${tenant}/0000000000000001-0000000000000003.jsonl`,
    ]);
    const segment = await object('gateway', `isogate/audit/${written?.archive_key}`);
    const hashes = segment
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { hash: string }).hash);
    expect(hashes).toEqual((await chainEvents(owner, { tenantId: tenant })).map((e) => e.hash));
  });

  it('detects a bucket without Object Lock, says so once, and writes with a checksum but no retention', async () => {
    const checkpointer = checkpointerOn('plain');
    const first = await tenantWithEvents(gateway, idp, 2);
    const second = await tenantWithEvents(gateway, idp, 2);
    await checkpointer.checkpointTenant(first);
    await checkpointer.checkpointTenant(second);
    expect(messages.filter((m) => /no Object Lock/.test(m))).toHaveLength(1);
    for (const put of [...puts(first), ...puts(second)]) {
      expect(put.headers['x-amz-object-lock-mode']).toBeUndefined();
      expect(put.headers['x-amz-checksum-sha256']).toBe(
        createHash('sha256').update(put.body).digest('base64'),
      );
    }
    expect(puts(first)).toHaveLength(2);
  });

  it('writes COMPLIANCE retention until the tenant’s retention ends when the bucket has Object Lock', async () => {
    const tenant = await tenantWithEvents(gateway, idp, 2, 30);
    const before = Date.now();
    const [written] = await checkpointerOn('locked').checkpointTenant(tenant);
    const sent = puts(tenant);
    expect(sent.map((p) => p.url.split('?')[0]?.split('/').at(-1))).toEqual([
      '0000000000000001-0000000000000002.jsonl',
      '0000000000000001-0000000000000002.checkpoint.json',
    ]);
    for (const put of sent) {
      expect(put.headers['x-amz-object-lock-mode']).toBe('COMPLIANCE');
      const until = Date.parse(put.headers['x-amz-object-lock-retain-until-date'] as string);
      expect(until).toBeGreaterThanOrEqual(before + 30 * DAY - 1000);
      expect(until).toBeLessThanOrEqual(Date.now() + 30 * DAY + 1000);
      expect(put.headers['x-amz-checksum-sha256']).toBe(
        createHash('sha256').update(put.body).digest('base64'),
      );
      expect(put.headers['if-none-match']).toBe('*');
    }
    expect(
      (await object('locked', `audit/${written?.archive_key}`)).equals(sent[0]?.body as Buffer),
    ).toBe(true);
    expect(messages.filter((m) => /no Object Lock/.test(m))).toHaveLength(1); // only 'plain' said so
  });

  it('retries a checkpoint whose row failed without writing any object twice', async () => {
    const checkpointer = checkpointerOn('plain');
    const tenant = await tenantWithEvents(gateway, idp, 3);
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
    expect(puts(tenant)).toHaveLength(2);
    const archived = JSON.parse(
      (
        await object('plain', `audit/${tenant}/0000000000000001-0000000000000003.checkpoint.json`)
      ).toString('utf8'),
    ) as { signature: string };
    const written = await checkpointer.checkpointTenant(tenant);
    expect(written.map((c) => [c.first_seq, c.seq])).toEqual([[1, 3]]);
    expect(puts(tenant)).toHaveLength(2); // found, compared, not written again
    const [row] = await scoped(
      owner,
      { tenantId: tenant },
      async (c) =>
        (await c.query<{ signature: string }>('SELECT signature FROM audit_checkpoints')).rows,
    );
    expect(row?.signature).toBe(archived.signature);
  });
});
