import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { resolve } from 'node:path';

/** The FalkorDB module the local stack loads into Valkey. */
const FALKORDB_MODULE = resolve(
  process.cwd(),
  'node_modules/@falkordblite/linux-x64/bin/falkordb.so',
);

/** A free loopback port (free when asked; the store binds it right after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.end();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/**
 * A Redis-protocol server of this test's own, on a free port, that the test may kill and
 * start again without disturbing the shared stack: a cache Redis, or Valkey with FalkorDB.
 * No persistence, like a server that lost its memory in a crash: ACL users are gone too.
 */
export class PrivateRedis {
  #process: ChildProcess | undefined;

  private constructor(
    readonly kind: 'redis' | 'falkordb',
    readonly port: number,
  ) {}

  /** Whether the binaries are installed (the local stack installs them). */
  static available(kind: 'redis' | 'falkordb'): boolean {
    return kind === 'redis'
      ? existsSync('/usr/bin/redis-server')
      : existsSync('/usr/bin/valkey-server') && existsSync(FALKORDB_MODULE);
  }

  static async start(kind: 'redis' | 'falkordb'): Promise<PrivateRedis> {
    const store = new PrivateRedis(kind, await freePort());
    await store.restart();
    return store;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again) on its port and waits until it accepts connections. */
  async restart(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ];
    const [binary, extra] =
      this.kind === 'redis'
        ? ['/usr/bin/redis-server', []]
        : ['/usr/bin/valkey-server', ['--loadmodule', FALKORDB_MODULE]];
    this.#process = spawn(binary, [...args, ...extra], { stdio: 'ignore' });
    const deadline = Date.now() + 15_000;
    while (!(await portOpen(this.port))) {
      if (Date.now() > deadline) throw new Error(`${this.kind} did not start on ${this.port}`);
      await new Promise((done) => setTimeout(done, 50));
    }
  }

  /** Kills the server at once (SIGKILL: no shutdown, no goodbye to clients). */
  async kill(): Promise<void> {
    const child = this.#process;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGKILL');
    await exited;
    this.#process = undefined;
  }
}
