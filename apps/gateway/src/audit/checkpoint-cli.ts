// Signs and archives audit checkpoints now, with the gateway's configuration, outside the
// gateway (which also does it in the background):
//   npm run audit:checkpoint [-- --all] [--tenant <id>]
// Without --all, only chains that are due by AUDIT_CHECKPOINT_* are checkpointed; with it, every
// chain with events since its last checkpoint. Prints one line per checkpoint written.
import { parseArgs } from 'node:util';
import { ExportSigner } from '@isogate/audit';
import { PostgresPools, TENANT_ID_PATTERN } from '@isogate/isolation';
import { buildConfig, ConfigError } from '../config/config.js';
import { loadEnvSource } from '../config/env-source.js';
import { createLogger } from '../logging/logger.js';
import { archiveOf, checkpointerOf } from './audit-checkpointing.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { all: { type: 'boolean', default: false }, tenant: { type: 'string' } },
  });
  if (values.tenant !== undefined && !TENANT_ID_PATTERN.test(values.tenant)) {
    process.stderr.write('audit:checkpoint: --tenant is not a tenant id\n');
    return 2;
  }
  const config = buildConfig(loadEnvSource());
  const log = createLogger(config.server.logLevel === 'info' ? 'warn' : config.server.logLevel);
  const pools = new PostgresPools({ url: config.database.url, poolMax: 2 });
  try {
    const audit = values.all
      ? { ...config.audit, checkpointEveryEvents: 1, checkpointIntervalSeconds: 0 }
      : config.audit;
    const archive = archiveOf(audit, log);
    const signer = ExportSigner.fromFile(audit.signingKeyFile);
    const checkpointer = checkpointerOf(audit, pools, signer, archive, log);
    const only = values.tenant !== undefined ? { only: [values.tenant] } : {};
    const written = [];
    // A run looks at a bounded number of chains; runs continue until one writes nothing.
    for (let run = 0; run < 1000; run += 1) {
      const batch = await checkpointer.runOnce(only);
      written.push(...batch);
      if (batch.length === 0) break;
    }
    for (const c of written)
      process.stdout.write(
        `${c.tenant_id}: seq ${c.first_seq}..${c.seq} signed, archived as ${c.archive_key ?? '(no archive)'}\n`,
      );
    process.stdout.write(
      `audit:checkpoint: ${written.length} checkpoint(s) to ${archive?.location ?? 'no archive'}\n`,
    );
    return 0;
  } finally {
    await pools.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message =
      error instanceof ConfigError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`audit:checkpoint: ${message}\n`);
    process.exit(1);
  },
);
