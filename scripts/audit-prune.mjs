// Owner-side retention of the audit trail (the gateway role cannot run any of this):
//   npm run audit:prune -- [--before 2020-01-01T00:00:00Z] [--tenant <id>] [--dry-run]
//                          [--allow-unarchived]
// Connects as the owner (DATABASE_ADMIN_URL) and signs with AUDIT_SIGNING_KEY_FILE; outside
// production, the local stack's .stack/env supplies both when the environment does not.
// For each tenant chain, in one transaction: picks the latest periodic checkpoint whose events
// are all older than --before (default: now) and past the tenant's retention; checks its
// signature and that the chain verifies from the previous cut up to it; writes a signed `prune`
// checkpoint at that seq; and calls audit_prune(), which deletes the prefix (and refuses unless
// that checkpoint is archived, or --allow-unarchived). Verification then starts from the cut's
// head hash. Afterwards, audit_expire_interactions() removes the content of interactions past
// retention; their content hashes stay. Exits 1 when a chain could not be pruned.
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import canonicalize from 'canonicalize';
import pg from 'pg';

const TENANT_ID = /^[a-z0-9][a-z0-9-]{2,62}$/;

function setting(name) {
  if (process.env[name]) return process.env[name];
  if (process.env.NODE_ENV === 'production') return undefined;
  const file = resolve(process.cwd(), '.stack/env');
  if (!existsSync(file)) return undefined;
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}=`));
  return line?.slice(name.length + 1).trim();
}

function usage(message) {
  process.stderr.write(`audit:prune: ${message}\n`);
  process.stderr.write(
    'usage: npm run audit:prune -- [--before <ISO date>] [--tenant <id>] [--dry-run] [--allow-unarchived]\n',
  );
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    before: { type: 'string' },
    tenant: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    'allow-unarchived': { type: 'boolean', default: false },
  },
});
const before = values.before === undefined ? new Date() : new Date(values.before);
if (Number.isNaN(before.getTime())) usage('--before is not a date');
if (values.tenant !== undefined && !TENANT_ID.test(values.tenant))
  usage('--tenant is not a tenant id');
const databaseUrl = setting('DATABASE_ADMIN_URL');
const keyFile = setting('AUDIT_SIGNING_KEY_FILE');
if (!databaseUrl) usage('DATABASE_ADMIN_URL is not set');
if (!keyFile) usage('AUDIT_SIGNING_KEY_FILE is not set');
const privateKey = createPrivateKey(readFileSync(keyFile, 'utf8'));
const publicKey = createPublicKey(privateKey);
const keyId = createHash('sha256')
  .update(publicKey.export({ format: 'der', type: 'spki' }))
  .digest('hex')
  .slice(0, 16);

/** What a checkpoint's signature covers (libs/audit checkpointStatement). */
const statementOf = (tenantId, c) => ({
  tenant_id: tenantId,
  seq: Number(c.seq),
  head_hash: c.head_hash,
  ts: new Date(c.ts).toISOString(),
  kind: c.kind,
  key_id: c.key_id,
});
const signed = (value, signature) =>
  verify(null, Buffer.from(canonicalize(value)), publicKey, Buffer.from(signature, 'base64'));

/** The hash an event row must have: sha256(prev_hash + canonical event without hash). */
function hashOf(row) {
  const event = {
    id: row.id,
    seq: Number(row.seq),
    ts: row.ts.toISOString(),
    tenant_id: row.tenant_id,
    msp_id: row.msp_id,
    actor: row.actor,
    roles: row.roles,
    action: row.action,
    resource: row.resource,
    outcome: row.outcome,
    status: row.status,
    request_id: row.request_id,
    details: row.details,
    prev_hash: row.prev_hash,
  };
  return createHash('sha256')
    .update(row.prev_hash + canonicalize(event))
    .digest('hex');
}

/** Checks the chain from `start` up to seq `cut`, page by page; answers the first bad seq. */
async function firstBadSeq(client, start, cut, expectedHead) {
  let expected = { seq: start.seq + 1, prev: start.hash };
  for (;;) {
    const { rows } = await client.query(
      `SELECT * FROM audit_events WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT 1000`,
      [expected.seq, cut],
    );
    for (const row of rows) {
      if (Number(row.seq) !== expected.seq || row.prev_hash !== expected.prev) return expected.seq;
      if (hashOf(row) !== row.hash) return expected.seq;
      expected = { seq: expected.seq + 1, prev: row.hash };
    }
    if (rows.length < 1000) break;
  }
  if (expected.seq !== cut + 1) return expected.seq;
  return expected.prev === expectedHead ? undefined : cut;
}

async function pruneTenant(client, tenantId) {
  await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
  const [limit] = (
    await client.query(
      `SELECT LEAST($1::timestamptz, now() - make_interval(days => audit_retention_days($2))) AS at`,
      [before.toISOString(), tenantId],
    )
  ).rows;
  const cut = await client.query(
    `WITH young AS (SELECT min(seq) AS seq FROM audit_events WHERE ts >= $1),
          last AS (SELECT seq, head_hash FROM audit_checkpoints WHERE kind = 'prune'
                    ORDER BY seq DESC LIMIT 1)
     SELECT c.*, l.seq AS start_seq, l.head_hash AS start_hash
       FROM audit_checkpoints c LEFT JOIN last l ON true, young y
      WHERE c.kind = 'periodic' AND c.seq > COALESCE(l.seq, 0) AND (y.seq IS NULL OR c.seq < y.seq)
      ORDER BY c.seq DESC LIMIT 1`,
    [limit.at],
  );
  const checkpoint = cut.rows[0];
  if (checkpoint === undefined) return { tenantId, removed: 0 };
  if (!signed(statementOf(tenantId, checkpoint), checkpoint.signature))
    throw new Error(`the checkpoint at seq ${checkpoint.seq} is not signed by this key`);
  const start = {
    seq: Number(checkpoint.start_seq ?? 0),
    hash: checkpoint.start_hash ?? '0'.repeat(64),
  };
  const bad = await firstBadSeq(client, start, Number(checkpoint.seq), checkpoint.head_hash);
  if (bad !== undefined) throw new Error(`the chain is broken at seq ${bad}; nothing is pruned`);
  const prune = {
    seq: Number(checkpoint.seq),
    head_hash: checkpoint.head_hash,
    ts: new Date().toISOString(),
    kind: 'prune',
    key_id: keyId,
  };
  const signature = sign(null, Buffer.from(canonicalize(statementOf(tenantId, prune))), privateKey);
  await client.query(
    `INSERT INTO audit_checkpoints (tenant_id, seq, head_hash, ts, kind, key_id, signature, archive_key, retention_days)
     VALUES ($1, $2, $3, $4, 'prune', $5, $6, $7, audit_retention_days($1))`,
    [
      tenantId,
      prune.seq,
      prune.head_hash,
      prune.ts,
      keyId,
      signature.toString('base64'),
      checkpoint.archive_key,
    ],
  );
  const [{ removed }] = (
    await client.query('SELECT audit_prune($1, $2, $3) AS removed', [
      tenantId,
      prune.seq,
      values['allow-unarchived'],
    ])
  ).rows;
  return {
    tenantId,
    removed: Number(removed),
    from: start.seq + 1,
    cut: prune.seq,
    archive: checkpoint.archive_key,
  };
}

/** Runs `work` in a transaction; rolls back on failure or a dry run. */
async function transaction(client, work, keep = true) {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query(keep ? 'COMMIT' : 'ROLLBACK');
    return result;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}

const client = new pg.Client({
  connectionString: databaseUrl,
  application_name: 'isogate-audit-prune',
});
await client.connect();
let failures = 0;
try {
  const tenants = await transaction(client, async () => {
    await client.query(`SELECT set_config('isogate.audit_scan', 'on', true)`);
    const { rows } = await client.query(
      'SELECT tenant_id FROM audit_heads WHERE $1::text IS NULL OR tenant_id = $1 ORDER BY tenant_id',
      [values.tenant ?? null],
    );
    return rows.map((r) => r.tenant_id);
  });
  for (const tenantId of tenants) {
    try {
      const result = await transaction(
        client,
        () => pruneTenant(client, tenantId),
        !values['dry-run'],
      );
      if (result.removed > 0 || (values['dry-run'] && result.cut !== undefined))
        process.stdout.write(
          `${values['dry-run'] ? 'would prune' : 'pruned'} ${tenantId}: seq ${result.from}..${result.cut}` +
            ` (${result.removed} events), cut at a checkpoint archived as ${result.archive ?? '(not archived)'}\n`,
        );
      const expired = await transaction(
        client,
        async () =>
          Number(
            (
              await client.query('SELECT audit_expire_interactions($1, $2) AS n', [
                tenantId,
                before.toISOString(),
              ])
            ).rows[0].n,
          ),
        !values['dry-run'],
      );
      if (expired > 0)
        process.stdout.write(
          `${values['dry-run'] ? 'would expire' : 'expired'} ${tenantId}: content of ${expired} interaction(s)\n`,
        );
    } catch (error) {
      failures += 1;
      process.stdout.write(
        `FAILED ${tenantId}: ${error instanceof Error ? error.message : String(error)}\n`,
      );
    }
  }
  process.stdout.write(`audit:prune: ${tenants.length} chain(s) looked at, ${failures} failed\n`);
} finally {
  await client.end();
}
process.exit(failures > 0 ? 1 : 0);
