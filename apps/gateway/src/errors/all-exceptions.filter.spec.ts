import { describe, expect, it } from '@jest/globals';
import type { ArgumentsHost } from '@nestjs/common';
import { Writable } from 'node:stream';
import { StoreUnavailableError } from '@isogate/isolation';
import { createLogger } from '../logging/logger.js';
import { AllExceptionsFilter } from './all-exceptions.filter.js';

/** Runs the filter on `exception` and returns what it logged and what it answered. */
function filtered(exception: unknown) {
  const logged: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged.push(chunk.toString('utf8'));
      done();
    },
  });
  const answer: { status?: number; body?: unknown } = {};
  const reply = {
    header: () => reply,
    type: () => reply,
    status(status: number) {
      answer.status = status;
      return reply;
    },
    send(body: unknown) {
      answer.body = body;
      return reply;
    },
  };
  const request = { id: 'req-1', method: 'POST', url: '/v1/tenants' };
  const host = {
    switchToHttp: () => ({ getResponse: () => reply, getRequest: () => request }),
  } as unknown as ArgumentsHost;
  new AllExceptionsFilter(createLogger('info', sink)).catch(exception, host);
  return { logged: logged.join(''), answer };
}

describe('AllExceptionsFilter', () => {
  it('logs why a store was unavailable and answers 503 without it', () => {
    const cause = new Error('Qdrant createCollection timed out after 5000 ms');
    const { logged, answer } = filtered(
      new StoreUnavailableError('qdrant', { cause, operation: 'create collection' }),
    );
    const entry = JSON.parse(logged) as { err: { message: string; stack: string } & object };
    expect(entry.err).toMatchObject({ store: 'qdrant', operation: 'create collection' });
    expect(entry.err.message).toContain(cause.message);
    expect(entry.err.stack).toContain('caused by');
    expect(answer.status).toBe(503);
    expect(JSON.stringify(answer.body)).not.toMatch(/qdrant|collection|timed out/i);
    expect(answer.body).toMatchObject({ error: { code: 'store_unavailable' } });
  });
});
