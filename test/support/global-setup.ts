import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type * as Containers from './containers.js';

/** The containers module, loaded only when asked for (Node strips its types itself). */
async function containerStores(): Promise<typeof Containers> {
  return (await import(new URL('./containers.ts', import.meta.url).href)) as typeof Containers;
}

/**
 * With `TEST_STORES=containers`, starts the stores with testcontainers and points the tests at
 * them (Jest workers inherit the environment set here). Otherwise the local stack must be up.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.TEST_STORES === 'containers') {
    process.env.ISOGATE_ENV_FILE = await (await containerStores()).startContainerStores();
    return;
  }
  if (!existsSync(resolve(process.cwd(), '.stack/env'))) {
    throw new Error(
      'The local stack is not set up: run `npm run stack:up` (or `npm test`, which does it).',
    );
  }
}
