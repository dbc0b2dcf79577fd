import { describe, expect, it } from '@jest/globals';
import { openLoop } from './open-loop.js';

describe('openLoop', () => {
  it('sends each request once, on its schedule, the first at once', async () => {
    const sent: number[] = [];
    const loop = openLoop(
      async (n) => {
        sent.push(n);
        return n;
      },
      200,
      0.1,
    );
    // The first request is due at the start: it goes out before the loop first sleeps.
    expect(sent).toEqual([0]);
    const { timed } = await loop;
    const ordered = [...timed].sort((a, b) => a.outcome - b.outcome);
    expect(ordered.map((t) => t.outcome)).toEqual(Array.from({ length: 20 }, (_, n) => n));
    expect(ordered.map((t) => Math.round(t.dueAt * 1_000) / 1_000)).toEqual(
      Array.from({ length: 20 }, (_, n) => n * 5),
    );
  });
});
