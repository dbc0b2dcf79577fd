import { ConfigError, buildConfig } from './config/config.js';
import { loadEnvSource } from './config/env-source.js';
import { createGateway } from './gateway.js';

async function main(): Promise<void> {
  let config;
  try {
    config = buildConfig(loadEnvSource());
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const app = await createGateway(config);
  // SIGTERM: stop accepting, let in-flight requests finish, then close the store connections.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await app.listen({ host: config.server.host, port: config.server.port });
  process.stdout.write(`isogate listening on http://${config.server.host}:${config.server.port}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `isogate failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
