// Owner-side retention of the audit trail (the gateway role cannot run any of this):
//   npm run audit:prune -- [--before 2020-01-01T00:00:00Z] [--tenant <id>] [--dry-run]
//                          [--allow-unarchived]
// Connects as the owner (DATABASE_ADMIN_URL) and signs with AUDIT_SIGNING_KEY_FILE; outside
// production, the local stack's .stack/env supplies both when the environment does not.
// For each tenant chain, in one transaction, AuditPruner cuts it at its latest signed, archived
// periodic checkpoint past retention (see libs/audit). Afterwards, the content of interactions
// past retention is removed; their content hashes stay. Exits 1 when a chain could not be
// pruned, 2 on a usage error.
import { parseArgs } from 'node:util';
import { AuditPruner, ExportSigner, type PruneOptions } from '@isogate/audit';
import { AuditRetentionRepository, TENANT_ID_PATTERN } from '@isogate/isolation';
import { envSchema } from '../config/config.schema.js';
import { loadEnvSource, type EnvSource } from '../config/env-source.js';

const USAGE =
  'usage: npm run audit:prune -- [--before <ISO date>] [--tenant <id>] [--dry-run] [--allow-unarchived]';

/** A mistake in how the command was called: reported with the usage line, exit 2. */
class UsageError extends Error {}

interface PruneRun {
  readonly tenant: string | undefined;
  readonly options: PruneOptions;
}

/** The owner's database and the signing key: the only settings pruning needs. */
interface RetentionSettings {
  readonly ownerUrl: string;
  readonly signingKeyFile: string;
}

function runOf(argv: readonly string[]): PruneRun {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        before: { type: 'string' },
        tenant: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        'allow-unarchived': { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const before = values.before === undefined ? new Date() : new Date(values.before);
  if (Number.isNaN(before.getTime())) throw new UsageError('--before is not a date');
  if (values.tenant !== undefined && !TENANT_ID_PATTERN.test(values.tenant))
    throw new UsageError('--tenant is not a tenant id');
  return {
    tenant: values.tenant,
    options: {
      before,
      dryRun: values['dry-run'],
      allowUnarchived: values['allow-unarchived'],
    },
  };
}

function settingsOf(env: EnvSource): RetentionSettings {
  const required = (name: 'DATABASE_ADMIN_URL' | 'AUDIT_SIGNING_KEY_FILE') => {
    const value = env[name];
    if (value === undefined || value === '') throw new UsageError(`${name} is not set`);
    const parsed = envSchema.shape[name].safeParse(value);
    if (!parsed.success)
      throw new UsageError(`${name}: ${parsed.error.issues[0]?.message ?? 'is not valid'}`);
    return parsed.data;
  };
  return {
    ownerUrl: required('DATABASE_ADMIN_URL'),
    signingKeyFile: required('AUDIT_SIGNING_KEY_FILE'),
  };
}

async function main(): Promise<number> {
  const { tenant, options } = runOf(process.argv.slice(2));
  const settings = settingsOf(loadEnvSource());
  const signer = ExportSigner.fromFile(settings.signingKeyFile);
  const retention = new AuditRetentionRepository(settings.ownerUrl);
  const pruner = new AuditPruner(retention, signer);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const would = (done: string, dry: string) => (options.dryRun ? dry : done);
  try {
    const tenants = await pruner.chains(tenant);
    let failures = 0;
    for (const tenantId of tenants) {
      try {
        const { removed, cut } = await pruner.prune(tenantId, options);
        if (cut !== undefined && (removed > 0 || options.dryRun))
          out(
            `${would('pruned', 'would prune')} ${tenantId}: seq ${cut.from}..${cut.seq}` +
              ` (${removed} events), cut at a checkpoint archived as ${cut.archiveKey ?? '(not archived)'}`,
          );
        const expired = await pruner.expireInteractions(tenantId, options);
        if (expired > 0)
          out(
            `${would('expired', 'would expire')} ${tenantId}: content of ${expired} interaction(s)`,
          );
      } catch (error) {
        failures += 1;
        out(`FAILED ${tenantId}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    out(`audit:prune: ${tenants.length} chain(s) looked at, ${failures} failed`);
    return failures > 0 ? 1 : 0;
  } finally {
    await retention.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`audit:prune: ${message}\n`);
    if (error instanceof UsageError) process.stderr.write(`${USAGE}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
