import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Writable } from 'node:stream';
import type { AppConfig } from '../../apps/gateway/src/config/config.js';
import { createGateway } from '../../apps/gateway/src/gateway.js';
import { createLogger } from '../../apps/gateway/src/logging/logger.js';

/** A gateway listening on a free loopback port, with everything it logged. */
export interface RunningGateway {
  readonly app: NestFastifyApplication;
  readonly url: string;
  readonly logs: string[];
  close(): Promise<void>;
}

/** Starts a gateway for a test; its logs are captured in memory so tests can scan them. */
export async function startGateway(config: AppConfig): Promise<RunningGateway> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger('info', sink);
  const app = await createGateway(config, { logger });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { app, url: `http://127.0.0.1:${port}`, logs, close: () => app.close() };
}
