import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * The gateway's structured logger. Requests are logged by method, route template, status and
 * request id only: never bodies, headers (tokens live there) or query strings (they may carry
 * personal data).
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'isogate' },
      redact: {
        paths: ['req.headers', 'headers', 'authorization', '*.authorization'],
        remove: true,
      },
      serializers: {
        req: (req: {
          method?: string;
          url?: string;
          id?: string;
          routeOptions?: { url?: string };
        }) => ({
          method: req.method,
          route: req.routeOptions?.url ?? (req.url ?? '').split('?')[0],
        }),
        res: (res: { statusCode?: number }) => ({ status: res.statusCode }),
      },
    },
    destination,
  );
}
