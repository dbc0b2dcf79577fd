import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

/** One direction of a proxied connection: what is waiting to be written, and where. */
interface Lane {
  readonly to: Socket;
  readonly queue: { chunk: Buffer; due: number }[];
  timer: NodeJS.Timeout | undefined;
  ended: boolean;
}

/**
 * A TCP proxy in front of a store, so a test can make the store misbehave without touching the
 * store itself or any other test that uses it:
 * - `cut()`: the store vanishes (open connections reset, new ones refused), like a crash;
 * - `stall()`: connections stay open but no byte gets through, like a network partition or a
 *   hung server (what only timeouts can detect);
 * - `slow(ms)`: every chunk arrives `ms` late, in both directions;
 * - `restore()`: back to normal; stalled bytes are delivered, as TCP would after a partition.
 */
export class TcpProxy {
  #server: Server | undefined;
  #sockets = new Set<Socket>();
  #lanes = new Set<Lane>();
  #cut = false;
  #stalled = false;
  #latencyMs = 0;
  /** Connections accepted since the start (refused ones included). */
  accepted = 0;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** Starts a proxy on a free loopback port in front of `host:port`. */
  static async start(host: string, port: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(host, port);
    await proxy.listen();
    return proxy;
  }

  /** Starts a proxy in front of the host and port of `url` (`redis://`, `http://` ...). */
  static async before(url: string): Promise<TcpProxy> {
    const target = new URL(url);
    return TcpProxy.start(target.hostname, Number(target.port));
  }

  get port(): number {
    return (this.#server?.address() as AddressInfo).port;
  }

  /** Connections open through the proxy right now (each counts once). */
  get openConnections(): number {
    return this.#sockets.size / 2;
  }

  /** Replaces host and port of `url` by this proxy's. */
  rewrite(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString().replace(/\/$/, '');
  }

  /** Drops every open connection and refuses new ones until `restore`. */
  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    this.#lanes.clear();
  }

  /** Keeps connections (and accepts new ones) but forwards nothing until `restore`. */
  stall(): void {
    this.#stalled = true;
  }

  /** Delays every chunk by `latencyMs` in each direction, until `restore`. */
  slow(latencyMs: number): void {
    this.#latencyMs = latencyMs;
  }

  /** Ends `cut`, `stall` and `slow`: what was held back is delivered. */
  restore(): void {
    this.#cut = false;
    this.#stalled = false;
    this.#latencyMs = 0;
    for (const lane of this.#lanes) this.pump(lane);
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }

  private async listen(): Promise<void> {
    this.#server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
  }

  private accept(client: Socket): void {
    this.accepted += 1;
    if (this.#cut) {
      client.destroy();
      return;
    }
    const upstream = connect(this.targetPort, this.targetHost);
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    this.forward(client, upstream);
    this.forward(upstream, client);
  }

  /** Copies `from` to `to` through a lane that can hold bytes back (stall) or delay them. */
  private forward(from: Socket, to: Socket): void {
    const lane: Lane = { to, queue: [], timer: undefined, ended: false };
    this.#lanes.add(lane);
    from.on('data', (chunk: Buffer) => {
      lane.queue.push({ chunk, due: Date.now() + this.#latencyMs });
      this.pump(lane);
    });
    from.on('end', () => {
      lane.ended = true;
      this.pump(lane);
    });
    to.on('close', () => {
      clearTimeout(lane.timer);
      this.#lanes.delete(lane);
    });
  }

  private pump(lane: Lane): void {
    clearTimeout(lane.timer);
    lane.timer = undefined;
    if (this.#stalled || lane.to.destroyed) return;
    while (lane.queue.length > 0) {
      const head = lane.queue[0] as { chunk: Buffer; due: number };
      const wait = head.due - Date.now();
      if (wait > 0) {
        lane.timer = setTimeout(() => this.pump(lane), wait);
        return;
      }
      lane.queue.shift();
      lane.to.write(head.chunk);
    }
    if (lane.ended) lane.to.end();
  }
}
