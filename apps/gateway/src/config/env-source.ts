import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Raw configuration values by variable name. */
export type EnvSource = Readonly<Record<string, string | undefined>>;

/**
 * The variables the gateway sees: the process environment over, in development and test only,
 * the values the local stack generated into `.stack/env`. Production never reads that file, so
 * no generated development secret can leak into a production start.
 */
export function loadEnvSource(env: NodeJS.ProcessEnv = process.env): EnvSource {
  const mode = env.NODE_ENV ?? 'development';
  if (mode === 'production') return { ...env };
  const file = env.ISOGATE_ENV_FILE ?? resolve(process.cwd(), '.stack/env');
  return { ...parseEnvFile(file), ...env };
}

/** Parses `KEY=VALUE` lines; blank lines and `#` comments are skipped. */
export function parseEnvFile(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const values: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const eq = trimmed.indexOf('=');
    if (eq <= 0) continue;
    values[trimmed.slice(0, eq).trim()] = trimmed.slice(eq + 1).trim();
  }
  return values;
}
