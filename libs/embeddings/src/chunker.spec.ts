import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { chunkDocument, indexText, type Chunk } from './chunker.js';
import { countTokens } from './tokens.js';

const SENTENCES = [
  'Participants were recruited from three university hospitals between 2019 and 2021.',
  'The primary outcome was the change in systolic blood pressure after twelve weeks.',
  'Adverse events were rare and did not differ between the groups.',
  'Sampling followed a stratified design by age, sex and baseline risk.',
  'Missing values were handled with multiple imputation by chained equations.',
];
const paragraph = (offset: number, count: number) =>
  Array.from({ length: count }, (_, i) => SENTENCES[(offset + i) % SENTENCES.length]).join(' ');
const longText = Array.from({ length: 6 }, (_, i) => paragraph(i, 7)).join('\n\n');
const words = (text: string) => text.split(/\s+/u).filter((word) => word !== '');

describe('chunkDocument', () => {
  it('keeps every chunk within the token budget and reports its exact count', () => {
    const chunks = chunkDocument({ title: 'Trial', text: longText }, { maxTokens: 50 });

    expect(chunks.length).toBeGreaterThan(5);
    for (const chunk of chunks) {
      expect(chunk.tokens).toBeLessThanOrEqual(50);
      expect(chunk.tokens).toBe(countTokens(chunk.text));
    }
    expect(chunks.map((chunk) => chunk.index)).toEqual(chunks.map((_, i) => i));
  });

  it('overlaps consecutive chunks of a section by about overlapTokens', () => {
    const chunks = chunkDocument(
      { title: 'Trial', text: paragraph(0, 20) },
      { maxTokens: 60, overlapTokens: 12 },
    );

    expect(chunks.length).toBeGreaterThan(2);
    for (let i = 1; i < chunks.length; i++) {
      const previous = words(chunks[i - 1]?.text ?? '');
      const current = words(chunks[i]?.text ?? '');
      const shared = [...Array(Math.min(previous.length, current.length)).keys()]
        .map((n) => n + 1)
        .filter((n) => previous.slice(-n).join(' ') === current.slice(0, n).join(' '))
        .pop();
      expect(shared).toBeDefined();
      expect(countTokens(current.slice(0, shared).join(' '))).toBeLessThanOrEqual(12);
    }
  });

  it('does not overlap when overlapTokens is 0, and cuts at sentence ends when it can', () => {
    const text = paragraph(0, 20);
    const chunks = chunkDocument({ title: 'Trial', text }, { maxTokens: 60, overlapTokens: 0 });

    expect(chunks.map((chunk) => chunk.text).join(' ')).toBe(text);
    for (const chunk of chunks) expect(chunk.text).toMatch(/\.$/u);
  });

  it('prefers a paragraph boundary to a later sentence boundary', () => {
    const first = paragraph(0, 3);
    const second = paragraph(3, 3);

    const chunks = chunkDocument(
      { title: 'Trial', text: `${first}\n\n${second}` },
      { maxTokens: countTokens(first) + 30, overlapTokens: 0 },
    );

    expect(chunks.map((chunk) => chunk.text)).toEqual([first, second]);
  });

  it('carries the heading path and never lets a chunk span two sections', () => {
    const text = [
      'An abstract before any heading.',
      '# Methods',
      'METHODS-TEXT ' + paragraph(0, 6),
      '## Sampling',
      'SAMPLING-TEXT ' + paragraph(1, 6),
      '```sh',
      '# a shell comment, not a heading',
      '```',
      '# Results #',
      'RESULTS-TEXT ' + paragraph(2, 6),
    ].join('\n');

    const chunks = chunkDocument({ title: 'Trial', text }, { maxTokens: 40, overlapTokens: 8 });
    const headings = [...new Set(chunks.map((chunk) => chunk.heading))];

    expect(headings).toEqual([undefined, 'Methods', 'Methods > Sampling', 'Results']);
    const marker: Record<string, string> = {
      Methods: 'METHODS',
      'Methods > Sampling': 'SAMPLING',
      Results: 'RESULTS',
    };
    for (const chunk of chunks) {
      const others = Object.entries(marker).filter(([heading]) => heading !== chunk.heading);
      for (const [, other] of others) expect(chunk.text).not.toContain(`${other}-TEXT`);
      expect(chunk.text).not.toMatch(/^#+ (Methods|Sampling|Results)/mu);
    }
    const fenced = chunks.filter((chunk) => chunk.text.includes('# a shell comment'));
    expect(fenced.map((chunk) => chunk.heading)).toEqual(['Methods > Sampling']);
  });

  it('gives no heading to text without headings, and nothing for blank text', () => {
    expect(chunkDocument({ title: 'T', text: 'Just one sentence.' })).toEqual([
      { index: 0, heading: undefined, text: 'Just one sentence.', tokens: 4 },
    ]);
    expect(chunkDocument({ title: 'T', text: '' })).toEqual([]);
    expect(chunkDocument({ title: 'T', text: ' \n\n\t  \n' })).toEqual([]);
    expect(chunkDocument({ title: 'T', text: '# Only a heading\n\n## And another' })).toEqual([]);
  });

  it('gives each chunk of paged text its page, and no chunk spans a page break', () => {
    const text = [
      'Cover page text.',
      '\f# Methods',
      'Sampling was random.\fStill methods, on page three.',
      '\f\f',
      '## Results',
      'Page five holds the results.',
    ].join('\n');
    const chunks = chunkDocument({ title: 'T', text });
    expect(chunks.map(({ page, heading, text }) => ({ page, heading, text }))).toEqual([
      { page: 1, heading: undefined, text: 'Cover page text.' },
      { page: 2, heading: 'Methods', text: 'Sampling was random.' },
      { page: 3, heading: 'Methods', text: 'Still methods, on page three.' },
      { page: 5, heading: 'Methods > Results', text: 'Page five holds the results.' },
    ]);
    // Text without page breaks has no pages at all.
    expect(chunkDocument({ title: 'T', text: 'One page.' })[0]).not.toHaveProperty('page');
  });

  it('splits inside a word only when that word alone exceeds the budget', () => {
    const huge = 'x'.repeat(3000);
    const chunks = chunkDocument(
      { title: 'T', text: `short words ${huge} more words` },
      {
        maxTokens: 16,
        overlapTokens: 0,
      },
    );

    for (const chunk of chunks) expect(chunk.tokens).toBeLessThanOrEqual(16);
    const joined = chunks.map((chunk) => chunk.text).join('');
    expect(joined.replace(/\s/gu, '')).toBe(`shortwords${huge}morewords`);
    expect(chunks[0]?.text).toBe('short words');
    expect(chunks.at(-1)?.text).toMatch(/(^| )more words$/u);
  });

  it('is deterministic', () => {
    const doc = { title: 'Trial', text: longText };

    expect(chunkDocument(doc, { maxTokens: 32 })).toEqual(chunkDocument(doc, { maxTokens: 32 }));
  });

  it.each([
    [{ maxTokens: 15 }],
    [{ maxTokens: 8193 }],
    [{ maxTokens: 100.5 }],
    [{ maxTokens: Number.NaN }],
    [{ maxTokens: 100, overlapTokens: -1 }],
    [{ maxTokens: 100, overlapTokens: 50 }],
    [{ maxTokens: 16, overlapTokens: 8 }],
  ])('refuses the options %j with a RangeError', (options) => {
    expect(() => chunkDocument({ title: 'T', text: 'text' }, options)).toThrow(RangeError);
  });

  it('accepts the edges of the option ranges', () => {
    expect(() =>
      chunkDocument({ title: 'T', text: 'text' }, { maxTokens: 16, overlapTokens: 7 }),
    ).not.toThrow();
    expect(() =>
      chunkDocument({ title: 'T', text: 'text' }, { maxTokens: 8192, overlapTokens: 0 }),
    ).not.toThrow();
  });

  it('keeps the budget and covers every word of random paragraphs', () => {
    const word = fc.stringMatching(/^[A-Za-z]{1,12}[.,;!?]?$/u);
    const paragraphs = fc.array(fc.array(word, { minLength: 1, maxLength: 120 }), {
      minLength: 1,
      maxLength: 6,
    });
    const options = fc.record({
      maxTokens: fc.integer({ min: 16, max: 120 }),
      overlapFraction: fc.double({ min: 0, max: 0.49, noNaN: true }),
    });

    fc.assert(
      fc.property(paragraphs, options, (paras, { maxTokens, overlapFraction }) => {
        const text = paras.map((para) => para.join(' ')).join('\n\n');
        const overlapTokens = Math.floor(maxTokens * overlapFraction);
        const chunks: Chunk[] = chunkDocument({ title: 'T', text }, { maxTokens, overlapTokens });
        const covered = new Set(chunks.flatMap((chunk) => words(chunk.text)));

        for (const chunk of chunks) {
          expect(chunk.tokens).toBeLessThanOrEqual(maxTokens);
          expect(text).toContain(chunk.text);
        }
        for (const w of words(text)) expect(covered).toContain(w);
      }),
      { seed: 20_240_601, numRuns: 200 },
    );
  });
});

describe('indexText', () => {
  const chunk = (heading: string | undefined): Chunk => ({
    index: 0,
    heading,
    text: 'Body.',
    tokens: 2,
  });

  it('joins title, heading and text, one per line', () => {
    expect(indexText('Trial', chunk('Methods > Sampling'))).toBe(
      'Trial\nMethods > Sampling\nBody.',
    );
  });

  it('leaves out a missing heading and one equal to the title', () => {
    expect(indexText('Trial', chunk(undefined))).toBe('Trial\nBody.');
    expect(indexText('Trial', chunk('Trial'))).toBe('Trial\nBody.');
  });
});
