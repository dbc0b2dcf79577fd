// Applies the SQL migrations in migrations/ as the owner role (DATABASE_ADMIN_URL).
// Outside production, the local stack's generated .stack/env supplies the URL when the
// environment does not.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { runner } from 'node-pg-migrate';

function devValue(name) {
  if (process.env.NODE_ENV === 'production') return undefined;
  const file = resolve(process.cwd(), '.stack/env');
  if (!existsSync(file)) return undefined;
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}=`));
  return line?.slice(name.length + 1).trim();
}

const databaseUrl = process.env.DATABASE_ADMIN_URL ?? devValue('DATABASE_ADMIN_URL');
if (!databaseUrl) {
  process.stderr.write(
    'migrate: DATABASE_ADMIN_URL is not set (run `npm run stack:up` in development)\n',
  );
  process.exit(1);
}

const direction = process.argv[2] === 'down' ? 'down' : 'up';
try {
  const applied = await runner({
    databaseUrl,
    dir: resolve(process.cwd(), 'migrations'),
    migrationsTable: 'pgmigrations',
    direction,
    count: direction === 'down' ? 1 : Infinity,
    singleTransaction: true,
    log: () => undefined,
  });
  const database = new URL(databaseUrl).pathname.slice(1);
  process.stdout.write(
    `migrate: ${database}: ${applied.length} migration(s) applied ${direction}\n`,
  );
} catch (error) {
  process.stderr.write(
    `migrate: failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
}
