import { describe, expect, it } from '@jest/globals';
import { compilePiiPattern } from './pii-patterns.js';

describe('compilePiiPattern', () => {
  it.each(['MRN-\\d{6}', '[A-Z]{2}\\d{8}', 'ACCT-?\\d{4,12}', '(?:CH|DE)\\d{2}[ -]?\\d{4}'])(
    'accepts the identifier pattern %s',
    (source) => {
      expect(compilePiiPattern(source).flags).toContain('g');
    },
  );

  it.each([
    ['(a+)+$', /\* or \+/],
    ['\\d*', /\* or \+/],
    ['(ab){2,5}', /quantify a group/],
    ['(ab)?', /quantify a group/],
    ['\\d{1,100}', /more than 64/],
    ['\\d{1,40}', /wider than 16/],
    ['a?b?c?', /more than 2 variable/],
    ['(a)\\1', /backreferences/],
    ['(?=a)b', /lookarounds/],
    ['(', /not a valid/],
    ['', /1 to 200/],
    ['a?', /empty string/],
  ])('refuses %s', (source, reason) => {
    expect(() => compilePiiPattern(source)).toThrow(reason);
  });

  it('does not count escaped characters or class members as quantifiers', () => {
    expect(() => compilePiiPattern('[*+?]\\*\\+\\?x')).not.toThrow();
  });
});
