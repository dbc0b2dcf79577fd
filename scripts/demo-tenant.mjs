// Waits for the development gateway, makes sure the `demo` tenant of MSP `demo-msp` exists,
// and prints how to call the API.
import { mintDevToken } from './dev-token.mjs';

const url = process.argv[2] ?? 'http://127.0.0.1:8080';

async function waitReady(seconds) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

if (!(await waitReady(60))) {
  process.stderr.write(`demo: the gateway at ${url} did not become ready within 60 s\n`);
  process.exit(1);
}
const operator = await mintDevToken({ msp: 'demo-msp', roles: ['operator'], sub: 'demo-operator' });
const created = await fetch(`${url}/v1/tenants`, {
  method: 'POST',
  headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
  body: JSON.stringify({ id: 'demo', name: 'Demo tenant' }),
});
const demo =
  created.status === 201
    ? 'created'
    : created.status === 409
      ? 'already there'
      : `not created (HTTP ${created.status})`;
process.stdout.write(
  [
    '',
    `isogate is ready at ${url}  (API docs: ${url}/docs)`,
    `demo tenant (MSP demo-msp): ${demo}`,
    'a development token for it:',
    '  TOKEN=$(npm run --silent token -- --tenant demo --roles user,admin)',
    `  curl -H "Authorization: Bearer $TOKEN" ${url}/v1/models`,
    '',
  ].join('\n'),
);
