import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { loadEnvSource } from '../apps/gateway/src/config/env-source.js';

/** A gateway running as its own OS process, so that its resident memory is its own. */
export interface GatewayProcess {
  readonly url: string;
  readonly pid: number;
  /** Resident set size of the gateway process in KiB (VmRSS), or NaN once it has exited. */
  rssKiB(): number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/**
 * Starts the built gateway (`dist/apps/gateway/src/main.js`) on a free port, on the local
 * stack's test database, and waits until `/readyz` answers 200. `env` adds or overrides
 * variables (the LLM endpoint, the log level).
 */
export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const stack = loadEnvSource({ ...process.env, NODE_ENV: 'test' });
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [resolve(process.cwd(), 'dist/apps/gateway/src/main.js')],
    {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: String(port),
        DATABASE_URL: stack.TEST_DATABASE_URL,
        DATABASE_ADMIN_URL: stack.TEST_DATABASE_ADMIN_URL,
        ...env,
      },
      // Logs go nowhere (they are still produced, as in production); failures show on stderr.
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) throw new Error('the gateway did not become ready in 60 s');
    await new Promise((done) => setTimeout(done, 250));
  }
  return {
    url,
    pid: child.pid as number,
    rssKiB() {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
      } catch {
        return Number.NaN;
      }
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
