import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { lexicalText } from './lexical.js';

// Roughly what Qdrant's word tokenizer keeps: runs of letters and digits.
const words = (text: string) => text.match(/[\p{L}\p{N}]+/gu) ?? [];

function isSubsequence(small: readonly string[], large: readonly string[]): boolean {
  let at = 0;
  for (const word of large) if (word === small[at]) at += 1;
  return at === small.length;
}

describe('lexicalText', () => {
  it('keeps a hyphenated compound and adds its joined form', () => {
    expect(lexicalText('Birth-weight is linked to K-Ras.')).toBe(
      'Birth-weight Birthweight is linked to K-Ras KRas.',
    );
    expect(lexicalText('an anti-interleukin-2 antibody')).toBe(
      'an anti-interleukin-2 antiinterleukin2 antibody',
    );
  });

  it('treats the Unicode hyphens like the ASCII one, but not dashes', () => {
    expect(lexicalText('IL\u20106 and IL\u20116')).toBe('IL\u20106 IL6 and IL\u20116 IL6');
    expect(lexicalText('pages 10\u201312, rest\u2014then')).toBe(
      'pages 10\u201312, rest\u2014then',
    );
  });

  it('leaves number ranges, loose hyphens and plain words alone', () => {
    for (const text of ['from 1990-2015', 'a 3-4 fold', 'x - y', '-leading trailing-', 'a--b'])
      expect(lexicalText(text)).toBe(text);
  });

  it('names a Greek letter used as a symbol, so its spellings meet', () => {
    expect(lexicalText('TNF-α')).toBe('TNF-alpha TNFalpha');
    expect(lexicalText('NF-κB and β2')).toBe('NF-kappaB NFkappaB and beta2');
    expect(lexicalText('Δ')).toBe('delta');
  });

  it('leaves Greek words as they are', () => {
    expect(lexicalText('η γλώσσα της επιστήμης')).toBe('eta γλώσσα της επιστήμης');
  });

  it('only ever adds words: the original ones stay, in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'B', '1', '-', '\u2010', ' ', ',', 'é'), { maxLength: 40 }),
        (chars) => {
          const text = chars.join('');
          expect(isSubsequence(words(text), words(lexicalText(text)))).toBe(true);
        },
      ),
      { seed: 20_240_602, numRuns: 500 },
    );
  });

  it('handles one very long compound in one piece', () => {
    const parts = Array.from({ length: 20_000 }, (_, i) => `w${i}`);
    const out = lexicalText(parts.join('-'));

    expect(out).toBe(`${parts.join('-')} ${parts.join('')}`);
  });
});
