// Dependency checks run by CI: the JWT libraries in the tree must be past their known
// advisories, and `npm audit` must find nothing high or critical when its endpoint answers.
import { spawnSync } from 'node:child_process';

/** Minimum versions: jsonwebtoken 9.0.0 (CVE-2022-23529/23539/23540/23541), jws 4.0.1 and 3.2.3 (GHSA-869p-cjfg-cm3x). */
const MINIMUM = {
  jsonwebtoken: [[9, 0, 0]],
  jws: [
    [4, 0, 1],
    [3, 2, 3],
  ],
};

const atLeast = (version, floors) => {
  const v = version.split('.').map(Number);
  return (
    floors.some((f) => v[0] === f[0] && (v[1] > f[1] || (v[1] === f[1] && v[2] >= f[2]))) ||
    v[0] > floors[0][0]
  );
};

function installed(tree, name, found = []) {
  for (const [dep, info] of Object.entries(tree.dependencies ?? {})) {
    if (dep === name && info.version) found.push(info.version);
    installed(info, name, found);
  }
  return found;
}

// `npm ls` exits 1 when neither package is in the tree (nothing depends on them today), which is
// fine; a problem it reports for them (a missing or invalid copy) is not, and its JSON says so.
const listing = spawnSync('npm', ['ls', '--all', '--json', 'jws', 'jsonwebtoken'], {
  encoding: 'utf8',
});
const tree = JSON.parse(listing.stdout || '{"error": "npm ls printed nothing"}');
let failed = false;
if (tree.error || (tree.problems ?? []).length > 0) {
  failed = true;
  process.stdout.write(
    `supply-chain: npm ls found a problem: ${JSON.stringify(tree.error ?? tree.problems)}\n`,
  );
}
for (const [name, floors] of Object.entries(MINIMUM)) {
  for (const version of installed(tree, name)) {
    const ok = atLeast(version, floors);
    failed ||= !ok;
    process.stdout.write(
      `supply-chain: ${name}@${version} ${ok ? 'ok' : 'HAS A KNOWN ADVISORY'}\n`,
    );
  }
}

const audit = spawnSync('npm', ['audit', '--omit=dev', '--audit-level=high', '--json'], {
  encoding: 'utf8',
});
let report;
try {
  report = JSON.parse(audit.stdout);
} catch {
  report = undefined;
}
if (report?.metadata?.vulnerabilities) {
  const { high = 0, critical = 0 } = report.metadata.vulnerabilities;
  process.stdout.write(`supply-chain: npm audit: ${high} high, ${critical} critical\n`);
  failed ||= high + critical > 0;
} else {
  process.stdout.write(
    'supply-chain: npm audit: the advisory endpoint did not answer; the version floors above still apply\n',
  );
}
process.exit(failed ? 1 : 0);
