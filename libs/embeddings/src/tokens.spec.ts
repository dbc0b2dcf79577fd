import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { countTokens, decodeTokens, encodeTokens, tokenPieces } from './tokens.js';

describe('countTokens', () => {
  it('counts o200k_base tokens', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('hello world')).toBe(2);
    expect(encodeTokens('hello world')).toEqual([24912, 2375]);
  });

  it('treats special-token strings in a document as plain text', () => {
    const text = 'before <|endoftext|> after';

    expect(() => encodeTokens(text)).not.toThrow();
    expect(encodeTokens(text)).not.toContain(199_999);
    expect(decodeTokens(encodeTokens(text))).toBe(text);
  });

  it('agrees with a full encoding for text without long unbroken runs', () => {
    const word = fc.string({ unit: 'binary', minLength: 1, maxLength: 20 });
    const text = fc.array(word, { maxLength: 40 }).map((words) => words.join(' '));

    fc.assert(
      fc.property(text, (sample) => {
        fc.pre(tokenPieces(sample).every((piece) => piece.end - piece.start < 48));
        expect(countTokens(sample)).toBe(encodeTokens(sample).length);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('adds up its pieces, and stays close to a full encoding on long runs', () => {
    const samples = ['x'.repeat(5000), '漢字仮名交じり文'.repeat(100), 'QUJDRA'.repeat(200)];

    for (const sample of samples) {
      const count = countTokens(sample);
      expect(tokenPieces(sample).reduce((sum, piece) => sum + piece.tokens, 0)).toBe(count);
      const pieces = tokenPieces(sample);
      expect(pieces.map((piece) => sample.slice(piece.start, piece.end)).join('')).toBe(sample);
      expect(count).toBeGreaterThan(0);
    }
    const cjk = '漢字仮名交じり文'.repeat(12);
    const full = encodeTokens(cjk).length;
    expect(countTokens(cjk)).toBeGreaterThanOrEqual(full);
    expect(countTokens(cjk)).toBeLessThanOrEqual(full + Math.ceil(cjk.length / 48));
  });

  it('keeps surrogate pairs whole when it slices', () => {
    const emoji = '😀'.repeat(100);

    for (const piece of tokenPieces(emoji)) expect((piece.end - piece.start) % 2).toBe(0);
  });
});
