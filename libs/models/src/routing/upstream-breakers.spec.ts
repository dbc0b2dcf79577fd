import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { IsogateError } from '@isogate/isolation';
import OpenAI from 'openai';
import { BreakerOpen, UpstreamBreakers } from './upstream-breakers.js';
import { fallbackReason } from './upstream-failure.js';

/** The error ChatModel throws for an upstream answer of `status`. */
function upstreamError(status: number): IsogateError {
  const error = new IsogateError('upstream_error', 'The language model failed to answer');
  error.cause = OpenAI.APIError.generate(status, { message: 'x' }, 'x', new Headers());
  return error;
}

const ok = async () => 'ok';
const fails = (status: number) => async (): Promise<string> => {
  throw upstreamError(status);
};

describe('fallbackReason', () => {
  it('falls back on timeouts, 5xx, 429 and connection failures only', () => {
    expect(fallbackReason(upstreamError(503))).toBe('server_error');
    expect(fallbackReason(upstreamError(429))).toBe('rate_limited');
    expect(fallbackReason(upstreamError(408))).toBe('timeout');
    expect(fallbackReason(new IsogateError('upstream_timeout', 'late'))).toBe('timeout');
    const refused = new IsogateError('upstream_error', 'x');
    refused.cause = new OpenAI.APIConnectionError({ message: 'Connection error.' });
    expect(fallbackReason(refused)).toBe('connection_error');
    const cut = new IsogateError('upstream_error', 'x');
    cut.cause = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    expect(fallbackReason(cut)).toBe('connection_error');

    expect(fallbackReason(upstreamError(400))).toBeUndefined();
    expect(fallbackReason(upstreamError(401))).toBeUndefined();
    expect(fallbackReason(new IsogateError('client_closed_request', 'gone'))).toBeUndefined();
    const malformed = new IsogateError('upstream_error', 'x');
    malformed.cause = new Error('the model answered without a message');
    expect(fallbackReason(malformed)).toBeUndefined();
    expect(fallbackReason(new Error('not ours'))).toBeUndefined();
  });
});

describe('UpstreamBreakers', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('opens after N consecutive failures, then refuses without calling', async () => {
    const breakers = new UpstreamBreakers(['a', 'b'], { failures: 3, cooldownMs: 1_000 });
    for (let i = 0; i < 2; i++) await expect(breakers.run('a', fails(503))).rejects.toThrow();
    expect(breakers.state('a')).toBe('closed');
    await expect(breakers.run('a', fails(503))).rejects.toMatchObject({ code: 'upstream_error' });
    expect(breakers.state('a')).toBe('open');
    const call = jest.fn(ok);
    await expect(breakers.run('a', call)).rejects.toBeInstanceOf(BreakerOpen);
    expect(call).not.toHaveBeenCalled();
    expect(breakers.state('b')).toBe('closed');
  });

  it('counts consecutive failures only, and not the request’s own faults', async () => {
    const breakers = new UpstreamBreakers(['a'], { failures: 2, cooldownMs: 1_000 });
    await expect(breakers.run('a', fails(503))).rejects.toThrow();
    await expect(breakers.run('a', ok)).resolves.toBe('ok');
    await expect(breakers.run('a', fails(503))).rejects.toThrow();
    for (let i = 0; i < 5; i++) await expect(breakers.run('a', fails(400))).rejects.toThrow();
    expect(breakers.state('a')).toBe('closed');
  });

  it('lets one probe through after the cool-down; its success closes the breaker', async () => {
    const breakers = new UpstreamBreakers(['a'], { failures: 1, cooldownMs: 1_000 });
    await expect(breakers.run('a', fails(503))).rejects.toThrow();
    expect(breakers.state('a')).toBe('open');
    jest.setSystemTime(Date.now() + 999);
    await expect(breakers.run('a', ok)).rejects.toBeInstanceOf(BreakerOpen);
    jest.setSystemTime(Date.now() + 2);

    let finishProbe: (value: string) => void = () => {};
    const probe = breakers.run(
      'a',
      () => new Promise<string>((resolve) => (finishProbe = resolve)),
    );
    await Promise.resolve();
    expect(breakers.state('a')).toBe('half_open');
    const other = jest.fn(ok);
    await expect(breakers.run('a', other)).rejects.toBeInstanceOf(BreakerOpen);
    expect(other).not.toHaveBeenCalled();
    finishProbe('ok');
    await expect(probe).resolves.toBe('ok');
    expect(breakers.state('a')).toBe('closed');
  });

  it('opens again when the probe fails', async () => {
    const breakers = new UpstreamBreakers(['a'], { failures: 1, cooldownMs: 1_000 });
    await expect(breakers.run('a', fails(503))).rejects.toThrow();
    jest.setSystemTime(Date.now() + 1_001);
    await expect(breakers.run('a', fails(502))).rejects.toMatchObject({ code: 'upstream_error' });
    expect(breakers.state('a')).toBe('open');
    await expect(breakers.run('a', ok)).rejects.toBeInstanceOf(BreakerOpen);
  });
});
