// Prints a development JWT signed with the local stack's development key.
//   npm run token -- --tenant demo --roles user,admin [--sub alice] [--ttl 3600]
//   npm run token -- --msp demo-msp --roles operator
import { parseArgs } from 'node:util';
import { mintDevToken } from './dev-token.mjs';

const ROLES = new Set(['user', 'admin', 'auditor', 'operator']);

function fail(message) {
  process.stderr.write(`token: ${message}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    tenant: { type: 'string' },
    msp: { type: 'string' },
    roles: { type: 'string', default: 'user' },
    sub: { type: 'string', default: 'dev-user' },
    ttl: { type: 'string', default: '3600' },
  },
});
if (process.env.NODE_ENV === 'production') fail('development tokens are refused in production');
if ((values.tenant === undefined) === (values.msp === undefined))
  fail('give exactly one of --tenant or --msp');
const roles = values.roles
  .split(',')
  .map((r) => r.trim())
  .filter(Boolean);
for (const role of roles) if (!ROLES.has(role)) fail(`unknown role ${role}`);
const ttlSeconds = Number(values.ttl);
if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 86_400)
  fail('--ttl must be 1..86400 seconds');

try {
  process.stdout.write(
    `${await mintDevToken({ tenant: values.tenant, msp: values.msp, roles, sub: values.sub, ttlSeconds })}\n`,
  );
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
