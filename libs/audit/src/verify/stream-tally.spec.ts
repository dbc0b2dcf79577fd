import { describe, expect, it } from '@jest/globals';
import { CHAT_STREAM_ACTIONS, StreamTally, type StreamEvent } from './stream-tally.js';

let next = 0;
const started = (requestId: string): StreamEvent => ({
  id: `e${(next += 1)}`,
  action: CHAT_STREAM_ACTIONS.started,
  request_id: requestId,
  details: { model: 'm', stream: true },
});
const completed = (start: StreamEvent, details: Record<string, unknown> = {}): StreamEvent => ({
  id: `e${(next += 1)}`,
  action: CHAT_STREAM_ACTIONS.completed,
  request_id: start.request_id,
  details: { started_event_id: start.id, end: 'completed', ...details },
});
const other = (requestId: string): StreamEvent => ({
  id: `e${(next += 1)}`,
  action: 'POST /v1/chat/completions',
  request_id: requestId,
  details: {},
});

const tally = (events: readonly StreamEvent[], listed?: number) => {
  const streams = new StreamTally(listed);
  for (const event of events) streams.push(event);
  return streams.report();
};

describe('StreamTally', () => {
  it('reports a started stream without its completion, and nothing for a completed one', () => {
    const a = started('ra');
    const b = started('rb');
    expect(tally([other('r0'), a, b, completed(a), other('r1')])).toEqual({
      started: 2,
      completed: 1,
      started_without_completed: { count: 1, request_ids: ['rb'], truncated: false },
    });
  });

  it('reports zero open streams when every one completed, whatever its end', () => {
    const a = started('ra');
    const b = started('rb');
    const c = started('rc');
    const events = [a, b, c, completed(b), completed(a, { end: 'interrupted' })];
    expect(tally([...events, completed(c, { end: 'upstream_error' })])).toEqual({
      started: 3,
      completed: 3,
      started_without_completed: { count: 0, request_ids: [], truncated: false },
    });
  });

  it('counts a completion whose start was pruned as completed, closing no other stream', () => {
    const pruned = started('ra');
    const open = started('ra');
    expect(tally([open, completed(pruned)])).toEqual({
      started: 1,
      completed: 1,
      started_without_completed: { count: 1, request_ids: ['ra'], truncated: false },
    });
    expect(tally([completed(pruned)]).started_without_completed.count).toBe(0);
  });

  it('closes the start a completion names when a request id was used twice', () => {
    const first = started('same');
    const second = started('same');
    expect(tally([first, second, completed(second)]).started_without_completed.count).toBe(1);
    expect(
      tally([first, second, completed(second), completed(first)]).started_without_completed,
    ).toEqual({ count: 0, request_ids: [], truncated: false });
  });

  it('links by request id alone when a completion names no start, and never across ids', () => {
    const a = started('ra');
    const unnamed = { ...completed(a), details: { end: 'completed' } };
    expect(tally([a, unnamed]).started_without_completed.count).toBe(0);
    const b = started('rb');
    const foreign = { ...completed(a), request_id: 'rb' };
    expect(tally([a, b, foreign]).started_without_completed).toEqual({
      count: 2,
      request_ids: ['ra', 'rb'],
      truncated: false,
    });
  });

  it('lists the oldest open streams up to its limit, with the exact count and truncated', () => {
    const starts = ['r1', 'r2', 'r3', 'r4'].map(started);
    expect(tally(starts, 2).started_without_completed).toEqual({
      count: 4,
      request_ids: ['r1', 'r2'],
      truncated: true,
    });
    expect(tally(starts, 4).started_without_completed.truncated).toBe(false);
    const [first] = starts as [StreamEvent];
    expect(tally([...starts, completed(first)], 2).started_without_completed).toEqual({
      count: 3,
      request_ids: ['r2', 'r3'],
      truncated: true,
    });
  });
});
