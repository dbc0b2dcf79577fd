import { afterEach, describe, expect, it } from '@jest/globals';
import { DenseEmbedder, type DenseEmbedderOptions } from '@isogate/models';
import OpenAI from 'openai';
import {
  fakeEmbedding,
  startOpenAiServer,
  type OpenAiServer,
  type OpenAiServerOptions,
} from './support/openai-server.js';

describe('DenseEmbedder against an OpenAI-compatible server', () => {
  const servers: OpenAiServer[] = [];

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  const start = async (options: OpenAiServerOptions = {}): Promise<OpenAiServer> => {
    const server = await startOpenAiServer({ dimensions: 8, ...options });
    servers.push(server);
    return server;
  };
  const embedder = (server: OpenAiServer, options: Partial<DenseEmbedderOptions> = {}) =>
    new DenseEmbedder({ baseURL: server.url, model: 'test-embed', dimensions: 8, ...options });
  const texts = (count: number) => Array.from({ length: count }, (_, i) => `passage number ${i}`);
  const embeddingRequests = (server: OpenAiServer) =>
    server.requests.filter((request) => request.path === '/v1/embeddings');

  it('sends batches of at most batchSize inputs and returns the vectors in input order', async () => {
    const server = await start();
    const input = texts(150);

    const vectors = await embedder(server, { batchSize: 64 }).embed(input);

    expect(vectors).toEqual(input.map((text) => fakeEmbedding(text, 8)));
    const bodies = embeddingRequests(server).map((request) => request.body as { input: string[] });
    expect(bodies.map((body) => body.input.length)).toEqual([64, 64, 22]);
    expect(bodies.flatMap((body) => body.input)).toEqual(input);
    expect(server.requests[0]?.body).toMatchObject({
      model: 'test-embed',
      encoding_format: 'float',
    });
  });

  it('places each vector by its index when the server answers out of order', async () => {
    const server = await start({
      rewriteEmbeddings: (response) => ({ ...response, data: [...response.data].reverse() }),
    });
    const input = texts(5);

    await expect(embedder(server).embed(input)).resolves.toEqual(
      input.map((text) => fakeEmbedding(text, 8)),
    );
  });

  it('sends the configured key, and a placeholder key when none is configured', async () => {
    const server = await start({ apiKey: 'secret-key' });

    await expect(embedder(server, { apiKey: 'secret-key' }).embed(['a'])).resolves.toHaveLength(1);
    await expect(embedder(server, { maxRetries: 0 }).embed(['a'])).rejects.toMatchObject({
      code: 'store_unavailable',
    });
    expect(server.requests.map((request) => request.headers.authorization)).toEqual([
      'Bearer secret-key',
      'Bearer isogate-no-key',
    ]);
  });

  it('makes no request for no texts', async () => {
    const server = await start();

    await expect(embedder(server).embed([])).resolves.toEqual([]);
    expect(server.requests).toHaveLength(0);
  });

  it('succeeds after two 503 answers thanks to the client retries', async () => {
    const server = await start();
    server.failNext(2, 503);

    await expect(embedder(server).embed(['retry me'])).resolves.toEqual([
      fakeEmbedding('retry me', 8),
    ]);
    expect(embeddingRequests(server)).toHaveLength(3);
  });

  it('reports a persistent failure as store_unavailable without upstream text', async () => {
    const server = await start();
    server.failNext(100, 500, { retryAfterMs: 1 });

    const failure = embedder(server, { maxRetries: 3 }).embed(['never']);

    await expect(failure).rejects.toMatchObject({
      code: 'store_unavailable',
      message: 'The embeddings service is unavailable',
    });
    expect(embeddingRequests(server)).toHaveLength(4);
  });

  it('reports an unreachable service as store_unavailable', async () => {
    const server = await start();
    const client = embedder(server, { maxRetries: 0 });
    await server.close();
    servers.splice(servers.indexOf(server), 1);

    await expect(client.embed(['nobody home'])).rejects.toMatchObject({
      code: 'store_unavailable',
    });
  });

  it('refuses vectors of another length, and a response missing an item', async () => {
    const wrongLength = await start({ dimensions: 4 });
    const missing = await start({
      rewriteEmbeddings: (response) => ({ ...response, data: response.data.slice(1) }),
    });

    await expect(embedder(wrongLength).embed(['a'])).rejects.toMatchObject({
      code: 'store_unavailable',
    });
    await expect(embedder(missing).embed(['a', 'b'])).rejects.toMatchObject({
      code: 'store_unavailable',
    });
  });

  it('check() passes when the dimensions match and names both numbers when they do not', async () => {
    const server = await start({ dimensions: 8 });

    await expect(embedder(server).check()).resolves.toBeUndefined();
    await expect(embedder(server, { dimensions: 16 }).check()).rejects.toThrow(
      /returns vectors of 8 dimensions, but 16 are configured/,
    );
  });
});

// The chat side of the test server is used by other suites; this keeps it honest against the
// real openai client (JSON, server-sent events ending in [DONE], the model list).
describe('the OpenAI-compatible test server, through the openai client', () => {
  let server: OpenAiServer;

  afterEach(async () => {
    await server.close();
  });

  it('answers chat completions as JSON and as a stream, and lists models', async () => {
    server = await startOpenAiServer({ answer: () => 'Paris is the capital of France.' });
    const client = new OpenAI({ baseURL: server.url, apiKey: 'test', maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: 'Capital of France?' }];

    const completion = await client.chat.completions.create({ model: 'test-chat', messages });
    const stream = await client.chat.completions.create({
      model: 'test-chat',
      messages,
      stream: true,
    });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? '';
    const models = await client.models.list();

    expect(completion.choices[0]?.message.content).toBe('Paris is the capital of France.');
    expect(streamed).toBe('Paris is the capital of France.');
    expect(models.data.map((model) => model.id)).toEqual(['test-embed', 'test-chat']);
    expect(server.requests[1]?.body).toMatchObject({ stream: true, messages });
  });
});
