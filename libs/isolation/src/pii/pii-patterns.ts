import { IsogateError } from '../errors/isogate-error.js';

/** Identifier patterns a tenant may list, at most. */
export const MAX_PII_PATTERNS = 20;

const MAX_SOURCE = 200;
const MAX_VARIABLE_QUANTIFIERS = 2;
const MAX_RANGE_WIDTH = 16;
const MAX_COUNT = 64;

/**
 * Compiles an identifier pattern a tenant lists (e.g. `MRN-\d{6}`), refusing any that could
 * make matching slow: JavaScript regular expressions backtrack and cannot be interrupted, so
 * one pattern would otherwise stall every request of the gateway process. Allowed: literals,
 * escapes, classes, groups and alternation, and bounded quantifiers on single atoms; refused:
 * `*`, `+`, open ranges, quantified groups, backreferences and lookarounds, and more than
 * two variable quantifiers or a range wider than sixteen.
 */
export function compilePiiPattern(source: string): RegExp {
  if (source.length === 0 || source.length > MAX_SOURCE) {
    refuse(`must be 1 to ${MAX_SOURCE} characters`);
  }
  let pattern: RegExp;
  try {
    pattern = new RegExp(source, 'gu');
  } catch {
    refuse('is not a valid regular expression');
  }
  checkShape(source);
  if (pattern.test('')) refuse('must not match the empty string');
  pattern.lastIndex = 0;
  return pattern;
}

function checkShape(source: string): void {
  if (/\\[1-9]|\\k</.test(source)) refuse('must not use backreferences');
  if (/\(\?<?[=!]/.test(source)) refuse('must not use lookarounds');
  let variable = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const char = source[i];
    if (char === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (char === ']') inClass = false;
      continue;
    }
    if (char === '[') inClass = true;
    else if (char === '*' || char === '+') refuse('must not use * or + (use {n,m})');
    else if (char === '?' && source[i - 1] !== '(') {
      if (source[i - 1] === ')') refuse('must not quantify a group');
      variable++;
    } else if (char === '{') {
      const range = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
      if (range === null) continue;
      if (source[i - 1] === ')') refuse('must not quantify a group');
      const low = Number(range[1]);
      const high = range[2] === undefined ? low : range[3] === '' ? Infinity : Number(range[3]);
      if (high > MAX_COUNT) refuse(`must not repeat more than ${MAX_COUNT} times`);
      if (high - low > MAX_RANGE_WIDTH)
        refuse(`must not use a range wider than ${MAX_RANGE_WIDTH}`);
      if (high > low) variable++;
      i += range[0].length - 1;
    }
  }
  if (variable > MAX_VARIABLE_QUANTIFIERS) {
    refuse(`must not use more than ${MAX_VARIABLE_QUANTIFIERS} variable quantifiers`);
  }
}

function refuse(reason: string): never {
  throw new IsogateError('invalid_request', `pii_patterns: a pattern ${reason}`, {
    param: 'pii_patterns',
  });
}
