import { execFileSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { readFileSync } from 'node:fs';
import { buildConfig, type AppConfig } from '../apps/gateway/src/config/config.js';
import { loadEnvSource } from '../apps/gateway/src/config/env-source.js';

/** The configuration benchmarks run with: the local stack, on the test database. */
export function benchConfig(overrides: Record<string, string> = {}): AppConfig {
  const source = loadEnvSource({ ...process.env, NODE_ENV: 'test' });
  return buildConfig({
    ...source,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    PORT: '0',
    DATABASE_URL: source.TEST_DATABASE_URL,
    DATABASE_ADMIN_URL: source.TEST_DATABASE_ADMIN_URL,
    ...overrides,
  });
}

/** The value at quantile `q` (0..1) of `samples`. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** Milliseconds that `work` took. */
export async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Resident memory (KiB) of the processes listening on `port`, with their children. */
export function residentKiB(port: number): number {
  const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
  const pids = new Set([...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])));
  for (const pid of [...pids]) for (const child of childrenOf(pid)) pids.add(child);
  let total = 0;
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

export const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

/** Signs bench tokens with the local stack's development key (the gateway runs in test mode). */
export function benchSigner(subject: string): (claims: Record<string, unknown>) => Promise<string> {
  const env = loadEnvSource({ ...process.env, NODE_ENV: 'test' });
  const key = createPrivateKey(readFileSync(env.JWT_DEV_PRIVATE_KEY_FILE as string, 'utf8'));
  return (claims) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer(env.JWT_ISSUER as string)
      .setAudience(env.JWT_AUDIENCE as string)
      .setSubject(subject)
      .setExpirationTime('4h')
      .sign(key);
}
