import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { applyPii, luhnValid, type PiiPolicy } from './pii-rules.js';

const redact: PiiPolicy = { mode: 'redact' };
const keyA = Buffer.alloc(32, 1);
const keyB = Buffer.alloc(32, 2);

describe('luhnValid', () => {
  it('accepts test card numbers and refuses a changed digit', () => {
    expect(luhnValid('4111 1111 1111 1111')).toBe(true);
    expect(luhnValid('5500-0000-0000-0004')).toBe(true);
    expect(luhnValid('4111 1111 1111 1112')).toBe(false);
    expect(luhnValid('1234')).toBe(false);
  });
});

describe('applyPii', () => {
  it.each([
    ['email', 'write to Jane.Doe+x@clinic.example.org today', 'write to [EMAIL] today'],
    ['card', 'card 4111 1111 1111 1111 on file', 'card [CARD] on file'],
    ['ssn', 'SSN 123-45-6789.', 'SSN [SSN].'],
    ['phone', 'call (555) 123-4567 or +1 555.987.6543', 'call [PHONE] or [PHONE]'],
    ['ipv4', 'from 192.168.10.254 at noon', 'from [IP] at noon'],
    ['ipv6', 'from 2001:db8::8a2e:370:7334 at noon', 'from [IP] at noon'],
  ])('redacts %s', (_kind, input, expected) => {
    expect(applyPii(input, redact).text).toBe(expected);
  });

  it('leaves look-alikes alone: a failing Luhn number, a version, a time, an invalid SSN', () => {
    const text = 'order 4111 1111 1111 1112, v1.2.3, at 10:30:15, id 000-12-3456';
    expect(applyPii(text, redact)).toEqual({ text, found: {} });
  });

  it('counts what it replaced by kind', () => {
    const { found } = applyPii('a@b.io c@d.io 123-45-6789', redact);
    expect(found).toEqual({ email: 2, ssn: 1 });
  });

  it('replaces the identifiers a tenant lists as patterns', () => {
    const policy: PiiPolicy = { mode: 'redact', patterns: [/MRN-\d{6}/] };
    expect(applyPii('chart MRN-004211 and MRN-991100', policy).text).toBe('chart [ID] and [ID]');
  });

  it('changes nothing when the mode is off', () => {
    expect(applyPii('a@b.io', { mode: 'off' })).toEqual({ text: 'a@b.io', found: {} });
  });

  it('pseudonymizes stably inside a tenant and unlinkably across tenants', () => {
    const a: PiiPolicy = { mode: 'pseudonymize', pseudonymKey: keyA };
    const b: PiiPolicy = { mode: 'pseudonymize', pseudonymKey: keyB };
    const first = applyPii('mail Jane@Clinic.example', a).text;
    const again = applyPii('reply to jane@clinic.example', a).text;
    const other = applyPii('mail Jane@Clinic.example', b).text;
    const token = /\[EMAIL_[0-9a-f]{12}\]/;
    expect(first).toMatch(token);
    expect(again.slice('reply to '.length)).toBe(first.slice('mail '.length));
    expect(other).toMatch(token);
    expect(other).not.toBe(first);
    expect(first).not.toContain('clinic');
  });

  it('refuses to pseudonymize without the tenant key', () => {
    expect(() => applyPii('a@b.io', { mode: 'pseudonymize' })).toThrow(/pseudonym key/);
  });

  it('never leaves a generated email, SSN or card number in the output', () => {
    const email = fc
      .tuple(
        fc.stringMatching(/^[a-z][a-z0-9.]{0,10}[a-z0-9]$/),
        fc.stringMatching(/^[a-z]{2,10}$/),
        fc.constantFrom('com', 'org', 'health', 'io'),
      )
      .map(([user, host, tld]) => `${user}@${host}.${tld}`);
    const ssn = fc
      .tuple(
        fc.integer({ min: 1, max: 665 }),
        fc.integer({ min: 1, max: 99 }),
        fc.integer({ min: 1, max: 9999 }),
      )
      .map(([area, group, serial]) => `${pad(area, 3)}-${pad(group, 2)}-${pad(serial, 4)}`);
    const card = fc
      .array(fc.integer({ min: 0, max: 9 }), { minLength: 15, maxLength: 15 })
      .map((digits) => withLuhnDigit(`4${digits.join('')}`));
    const secret = fc.oneof(email, ssn, card);
    const filler = fc.constantFrom(' ', ' text ', ', see ', '\n', ' (', ') ');
    const part = fc.oneof(
      secret.map((value) => ({ value, secret: true })),
      filler.map((value) => ({ value, secret: false })),
    );
    fc.assert(
      fc.property(fc.array(part, { maxLength: 12 }), (parts) => {
        const output = applyPii(parts.map((p) => p.value).join(' '), redact).text;
        for (const { value } of parts.filter((p) => p.secret)) {
          expect(output).not.toContain(value);
        }
      }),
      { seed: 4242, numRuns: 500 },
    );
  });
});

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/** Appends the check digit that makes `body` pass Luhn. */
function withLuhnDigit(body: string): string {
  for (let digit = 0; digit <= 9; digit++) {
    if (luhnValid(`${body}${digit}`)) return `${body}${digit}`;
  }
  throw new Error('unreachable');
}
