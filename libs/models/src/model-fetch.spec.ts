import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_BUFFERED_BYTES, bufferedFetch, streamingFetch } from './model-fetch.js';

/** What the loopback server saw of the last request. */
interface Seen {
  method?: string;
  headers?: IncomingMessage['headers'];
  body?: string;
}

describe('bufferedFetch', () => {
  let server: Server;
  let base: string;
  const seen: Seen = {};

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        Object.assign(seen, {
          method: request.method,
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        if (request.url === '/empty') {
          response.writeHead(204).end();
        } else if (request.url === '/huge') {
          // One byte more than a whole answer may have, in 1 MB pieces.
          response.writeHead(200, { 'content-type': 'application/json' });
          const piece = Buffer.alloc(1024 * 1024, 0x20);
          for (let i = 0; i < MAX_BUFFERED_BYTES / piece.length; i++) response.write(piece);
          response.end(' ');
        } else if (request.url === '/slow') {
          setTimeout(() => response.writeHead(200).end('late'), 300);
        } else {
          response.setHeader('set-cookie', ['a=1', 'b=2']);
          response.writeHead(201, { 'content-type': 'application/json', 'x-request-id': 'r-1' });
          response.end(JSON.stringify({ echoed: seen.body }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('refuses to hold a body longer than a whole answer may be; a stream is read as it comes', async () => {
    await expect(bufferedFetch()(`${base}/huge`, { method: 'GET' })).rejects.toThrow(/longer than/);
    // Control: the same body through the streaming fetch is handed over, piece by piece.
    const streamed = await streamingFetch()(`${base}/huge`, { method: 'GET' });
    let length = 0;
    for await (const part of streamed.body as unknown as AsyncIterable<Uint8Array>) {
      length += part.length;
    }
    expect(length).toBe(MAX_BUFFERED_BYTES + 1);
  });

  it('sends method, headers and a string body, and answers a whole Response', async () => {
    const fetcher = bufferedFetch();
    const response = await fetcher(`${base}/v1/chat/completions`, {
      method: 'post',
      headers: new Headers({ authorization: 'Bearer k', 'content-type': 'application/json' }),
      body: '{"model":"m"}',
    });
    expect(seen).toMatchObject({
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: '{"model":"m"}',
    });
    expect(response.status).toBe(201);
    expect(response.ok).toBe(true);
    expect(response.headers.get('x-request-id')).toBe('r-1');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await response.json()).toEqual({ echoed: '{"model":"m"}' });
  });

  it('answers a null body for 204, as fetch does', async () => {
    const response = await bufferedFetch()(`${base}/empty`, { method: 'DELETE' });
    expect(response.status).toBe(204);
    expect(response.body).toBeNull();
  });

  it('stops when its signal aborts, and the same call without a signal completes', async () => {
    const fetcher = bufferedFetch();
    const started = fetcher(`${base}/slow`, { signal: AbortSignal.timeout(50) });
    await expect(started).rejects.toMatchObject({ name: expect.stringMatching(/Abort|Timeout/) });
    const control = await fetcher(`${base}/slow`);
    expect(await control.text()).toBe('late');
  });

  it('hands a body it does not buffer (form data) to global fetch', async () => {
    const form = new FormData();
    form.set('purpose', 'test');
    const response = await bufferedFetch()(`${base}/form`, { method: 'POST', body: form });
    expect(response.status).toBe(201);
    expect(seen.headers?.['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(seen.body).toContain('name="purpose"');
  });
});
