import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { IsogateError } from '@isogate/isolation';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The JSON body parser: Fastify's own (prototype poisoning refused), fed only bytes that are
 * valid UTF-8. Decoding leniently would turn invalid bytes into U+FFFD and store a document
 * that is not what the caller sent; a clear 400 is better.
 */
export function installJsonBodyParser(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new IsogateError('invalid_json', 'The request body is not valid UTF-8'), undefined);
      return;
    }
    // Fastify's default parser calls `done` itself; its return value carries nothing.
    void parseJson(request, text, done);
  });
}
