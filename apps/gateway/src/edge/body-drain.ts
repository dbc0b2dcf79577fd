import type { IncomingMessage } from 'node:http';
import { IsogateError } from '@isogate/isolation';

/**
 * Bytes of a refused body the gateway still reads and discards after answering. Closing a
 * socket that has unread bytes makes the kernel answer with a reset, and a client still
 * uploading then often loses the answer it was sent (a 413, a 401) and sees ECONNRESET
 * instead; reading the rest lets every client see the answer. Beyond this, an upload is cut.
 */
export const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;
/** How long a refused upload may take to finish before its connection is cut. */
export const DRAIN_LIMIT_MS = 30_000;

const BODYLESS = new Set(['GET', 'HEAD']);

/**
 * Refuses, before a byte of it is read, a body whose declared length is over the limit. A
 * chunked body over the limit is refused by Fastify's parser once the limit is crossed.
 */
export function refuseOversizedBody(raw: IncomingMessage, bodyLimit: number): void {
  if (BODYLESS.has(raw.method ?? '')) return;
  const declared = Number(raw.headers['content-length']);
  if (declared > bodyLimit) {
    throw new IsogateError('payload_too_large', 'The request body is too large');
  }
}

/**
 * Called when an answer goes out before the request's body was read to its end (a refusal at
 * the edge, a body over the limit): reads and discards the rest, within limits, and keeps the
 * connection open for the next request, so the answer is never lost to a reset. Answers
 * whether a drain was started.
 */
export function drainUnreadBody(raw: IncomingMessage): boolean {
  if (raw.complete || raw.destroyed) return false;
  let drained = 0;
  // Held from the start: the response lets go of the socket once it has been sent.
  const socket = raw.socket;
  const cut = () => socket.destroy();
  const timer = setTimeout(cut, DRAIN_LIMIT_MS);
  timer.unref();
  const onData = (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_LIMIT_BYTES) cut();
  };
  const done = () => {
    clearTimeout(timer);
    raw.off('data', onData);
  };
  raw.on('data', onData);
  raw.once('end', done);
  raw.once('close', done);
  raw.resume();
  return true;
}
