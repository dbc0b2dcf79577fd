import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { removeForeignLinks } from './answer-links.js';
import { EXFILTRATION_CORPUS, LINK_HOSTS } from './exfiltration-corpus.js';
import { StreamSanitizer } from './stream-sanitizer.js';

/** What a stream of `deltas` sends: every push, then the end. */
function streamed(deltas: readonly string[], hosts: readonly string[] = LINK_HOSTS): string[] {
  const sanitizer = new StreamSanitizer(hosts);
  return [...deltas.map((delta) => sanitizer.push(delta)), sanitizer.end()];
}

/** `text` cut at the sorted offsets `cuts` (repeats give empty deltas). */
function split(text: string, cuts: readonly number[]): string[] {
  const bounds = [0, ...[...cuts].sort((a, b) => a - b), text.length];
  return bounds.slice(1).map((end, i) => text.slice(bounds[i], end));
}

const splits = (text: string) =>
  fc.array(fc.nat({ max: text.length }), { maxLength: 12 }).map((cuts) => split(text, cuts));

/** A long `text` in deltas of a few characters, as a model sends it, cut at random too. */
const longSplits = (text: string) =>
  fc
    .array(fc.nat({ max: text.length }), { maxLength: 12 })
    .map((cuts) =>
      split(text, [...cuts, ...Array.from({ length: text.length / 5 }, (_, i) => i * 5)]),
    );

// prettier-ignore
const FRAGMENTS = [
  '[', ']', '(', ')', '![', '<', '>', '`', '\\', '"', 'http://', 'https://', '//', 'www.',
  'evil.example', 'docs.example.org', '/p?d=1', '@', ':', '\n', '\n\n', ' ', 'text', '[1]', '.',
  '](', ']:', '\n[1]: ', 'x@evil.example', '<!--', '-->', '<img src=', '```', '- ', '\n===',
];
const markdownish = fc
  .array(fc.constantFrom(...FRAGMENTS), { maxLength: 32 })
  .map((parts) => parts.join(''));

/** A reference label as CommonMark matches it: case and runs of whitespace do not count. */
const label = (text: string) => text.replace(/\s+/gu, ' ').trim().toLowerCase();

/**
 * Whether `answer` defines a label it used before (the one case where a stream may differ from
 * the whole answer sanitized: what was sent as `[1]` stays so when `[1]: <foreign>` follows).
 */
function usesReferenceBeforeDefinition(answer: string): boolean {
  for (const definition of answer.matchAll(/^[ \t>*+\-\d.)]*\[([^[\]]+)\]:/gmu)) {
    const defined = label(definition[1] ?? '');
    const before = answer.slice(0, definition.index).matchAll(/\[([^[\]]*)\]/gu);
    if ([...before].some((used) => label(used[1] ?? '') === defined)) return true;
  }
  return false;
}

const foreignHosts = (text: string) => text.match(/evil\.example/gu)?.length ?? 0;

/**
 * That `answer` streamed as `deltas` is sent as the whole answer sanitizes, but for the
 * documented exception, which shows no foreign host the whole answer does not.
 */
function expectSentAsWhole(answer: string, deltas: readonly string[]): void {
  const sent = streamed(deltas).join('');
  const expected = removeForeignLinks(answer, LINK_HOSTS);
  if (sent === expected) return;
  expect(usesReferenceBeforeDefinition(answer)).toBe(true);
  expect(foreignHosts(sent)).toBeLessThanOrEqual(foreignHosts(expected));
}

describe('StreamSanitizer', () => {
  it('sends every corpus answer as the whole answer sanitizes, however it is split', () => {
    for (const answer of EXFILTRATION_CORPUS) {
      const expected = removeForeignLinks(answer, LINK_HOSTS);
      expect(streamed([answer]).join('')).toBe(expected);
      expect(streamed([...answer]).join('')).toBe(expected);
      fc.assert(
        fc.property(splits(answer), (deltas) => streamed(deltas).join('') === expected),
        { numRuns: 60 },
      );
    }
  });

  it('sends generated markdown as the whole answer sanitizes, however it is split', () => {
    fc.assert(
      fc.property(
        markdownish.chain((answer) => fc.tuple(fc.constant(answer), splits(answer))),
        ([answer, deltas]) => expectSentAsWhole(answer, deltas),
      ),
      { numRuns: 1500 },
    );
  });

  it('sends long answers as the whole answer sanitizes: a long paragraph, HTML early', () => {
    const prose = 'The protocol prefers valve replacement [1] for elderly patients. '.repeat(90);
    const starts = fc.constantFrom(
      prose,
      `<b>x</b> ${prose}`,
      `${prose}\n\n<!-- c -->\n\n${prose}`,
    );
    const tails = fc.array(fc.constantFrom(...FRAGMENTS, prose.slice(0, 700)), { maxLength: 24 });
    fc.assert(
      fc.property(
        fc
          .tuple(starts, tails)
          .map(([start, tail]) => start + tail.join(''))
          .chain((answer) => fc.tuple(fc.constant(answer), longSplits(answer))),
        ([answer, deltas]) => expectSentAsWhole(answer, deltas),
      ),
      { numRuns: 150 },
    );
  });

  it('lets prose with citations through, holding back only its last word', () => {
    const sentence = 'The dose is 5 mg [1], twice daily [2] (see [3]). ';
    const lastWord = '[3]). ';
    const sanitizer = new StreamSanitizer(LINK_HOSTS);
    expect(sanitizer.push(sentence)).toBe(sentence.slice(0, -lastWord.length));
    expect(sanitizer.push('Take it with')).toBe(lastWord + 'Take it ');
    expect(sanitizer.push(' food [4]')).toBe('with food ');
    expect(sanitizer.end()).toBe('[4]');
    const byCharacter = new StreamSanitizer(LINK_HOSTS);
    const sent = [...sentence].map((c) => byCharacter.push(c)).join('');
    expect(sent).toBe(sentence.slice(0, -lastWord.length));
  });

  it('sends a plain word once a space follows it, and holds back the space', () => {
    const sanitizer = new StreamSanitizer(LINK_HOSTS);
    expect(sanitizer.push('According')).toBe('');
    expect(sanitizer.push(' ')).toBe('According');
    expect(sanitizer.push('to ')).toBe(' to');
    // A word that could still be part of something is held back whole, its space included.
    expect(sanitizer.push('e.g. ')).toBe(' ');
    expect(sanitizer.push('and ')).toBe('e.g. and');
    expect(sanitizer.end()).toBe(
      removeForeignLinks('According to e.g. and ', LINK_HOSTS).slice(21),
    );
  });

  it('sends a citation defined only later for a foreign host as text, with no definition', () => {
    const answer =
      'Cited [1] and [2].\n\n[1]: https://docs.example.org/a\n[2]: https://evil.example/b';
    // The whole answer sanitized shows `2`; the stream had sent `[2]` before its definition.
    expect(removeForeignLinks(answer, LINK_HOSTS)).toBe(
      'Cited [1] and 2.\n\n[1]: https://docs.example.org/a\n',
    );
    expect(streamed([...answer]).join('')).toBe(
      'Cited [1] and [2].\n\n[1]: https://docs.example.org/a\n',
    );
  });

  it('never sends any part of a foreign link, wherever the stream splits it', () => {
    const answer =
      'Read [the policy](https://evil.example/?q=x) and ![p](//evil.example/p.png) now.';
    for (let at = 0; at <= answer.length; at += 1) {
      const sent = streamed([answer.slice(0, at), answer.slice(at)]);
      expect(sent.join('')).toBe('Read the policy and [image removed] now.');
      for (const part of sent) expect(part).not.toMatch(/evil|example|\]\(/u);
    }
    const single = streamed([...answer]);
    for (const part of single) expect(part).not.toMatch(/evil|example/u);
  });
});
