/**
 * Where the part of a partial markdown answer that more text could still change begins, for
 * {@link StreamSanitizer}: the syntax rules are deliberately coarser than CommonMark's, since
 * holding back too much costs a little latency and too little could send an unsanitized link.
 */

/** A blank line ends every paragraph, and with it every inline construct open in it. */
const BLANK_LINE = /\n[ \t\r]*\n/gu;
/** HTML blocks that a blank line does not end, with what ends each. */
const LONG_HTML: readonly (readonly [RegExp, RegExp])[] = [
  [/<!--/u, /-->/u],
  [/<\?/u, /\?>/u],
  [/<!\[CDATA\[/u, /\]\]>/u],
  [/<![a-z]/iu, />/u],
  [/<(?:script|pre|style|textarea)\b/iu, /<\/(?:script|pre|style|textarea)>/iu],
];
const WHITESPACE = /[ \t\n\r]/u;
/** What may come before a reference definition's `[` on its line: indentation and containers. */
const DEFINITION_LINE_PREFIX = /^[ \t>*+\-\d.)]*$/u;

/**
 * The offset in `text` from which sanitizing may still change as text is appended: always 0
 * or just after whitespace, and before it nothing that more text could turn into (or out of)
 * a link, an image, a URL or raw HTML, except a reference whose definition is still to come.
 */
export function undecidedFrom(text: string): number {
  const spans: Span[] = [];
  let from = longHtml(text, spans);
  const starts = [0, ...[...text.matchAll(BLANK_LINE)].map((m) => m.index + m[0].length)];
  starts.forEach((start, i) => {
    const scan = scanInline(text.slice(start, starts[i + 1] ?? text.length));

    for (const span of scan.spans) spans.push({ start: start + span.start, end: start + span.end });
    // An image reference waits for the end: a definition anywhere later makes it an image.
    if (scan.imageReference !== undefined) from = Math.min(from, start + scan.imageReference);
    const end = starts[i + 1] ?? text.length;
    if (i === starts.length - 1) from = Math.min(from, start + scan.open);
    // A paragraph that ended with something open is decided only as a whole.
    else if (start + scan.open < end) spans.push({ start: start + scan.open, end });
  });
  return cutOutside(text, from, spans);
}

function cutOutside(text: string, at: number, spans: readonly Span[]): number {
  let cut = cutAtOrBefore(text, at);
  for (;;) {
    const inside = spans.find((span) => span.start < cut && cut < span.end);
    if (inside === undefined) return cut;
    cut = cutAtOrBefore(text, inside.start);
  }
}

/**
 * The last place at or before `at` where the text may be cut: the start of a word that has
 * begun (a word before whitespace and the end of the text is not decided: the parser treats the
 * end of a paragraph differently from text going on), after a space on the same line or after a
 * blank line (a line break could still turn out to end the paragraph, as a list item, heading
 * or setext underline on the next line would).
 */
export function cutAtOrBefore(text: string, at: number): number {
  for (let p = Math.min(at, text.length - 1); p > 0; p -= 1) {
    if (WHITESPACE.test(text[p] ?? ' ') || !WHITESPACE.test(text[p - 1] ?? '')) continue;
    let start = p;
    while (start > 0 && WHITESPACE.test(text[start - 1] ?? '')) start -= 1;
    const space = text.slice(start, p);
    if (!space.includes('\n') || /\n[ \t\r]*\n/u.test(space)) return p;
  }
  return 0;
}

function lineStartAt(text: string, at: number): number {
  return text.lastIndexOf('\n', at - 1) + 1;
}

/** Where an HTML block still open starts, and the spans of those closed. */
function longHtml(text: string, spans: Span[]): number {
  let from = text.length;
  for (const [opener, closer] of LONG_HTML) {
    const openers = new RegExp(opener.source, `${opener.flags}g`);
    for (const match of text.matchAll(openers)) {
      const start = lineStartAt(text, match.index);
      const after = match.index + match[0].length;
      const close = closer.exec(text.slice(after));
      if (close === null) {
        from = Math.min(from, start);
        break;
      }
      const lineEnd = text.indexOf('\n', after + close.index + close[0].length);
      spans.push({ start, end: lineEnd === -1 ? text.length : lineEnd });
    }
  }
  return from;
}

/** Text a cut must not fall inside, because what it is depends on text on both sides. */
interface Span {
  readonly start: number;
  readonly end: number;
}

interface InlineScan {
  /** Where the first inline construct still open starts, or the paragraph's length. */
  readonly open: number;
  /** Where the first `![...]` not followed by an inline destination starts. */
  readonly imageReference: number | undefined;
  /** Bracket groups, code spans and raw HTML, relative to the paragraph. */
  readonly spans: readonly Span[];
}

/**
 * Where in a paragraph (so far) inline constructs are still undecided. Brackets are matched by
 * nesting depth, as CommonMark matches them, skipping escapes and matched code spans; a bracket
 * group is decided once what follows its `]` is known.
 */
function scanInline(paragraph: string): InlineScan {
  const opened: number[] = [];
  let imageReference: number | undefined;
  let open: number | undefined;
  const spans: Span[] = [];
  /** The first group of a `[a][b]` chain, which a definition can make one reference. */
  let chain: number | undefined;
  // The scan goes on past the first open construct only to find image references.
  const hold = (at: number) => {
    open ??= Math.min(chain ?? at, opened[0] ?? at, at);
  };
  let i = 0;
  while (i < paragraph.length) {
    const c = paragraph[i];
    if (c === '\\') {
      if (i + 1 === paragraph.length) hold(i);
      i += 2;
    } else if (c === '`') {
      const after = codeSpanEnd(paragraph, i);
      // One across a line break may really be two blocks (a quote or list item starting).
      if (after === undefined || paragraph.slice(i, after).includes('\n')) hold(i);
      if (after !== undefined) spans.push({ start: i, end: after });
      i = after ?? i + 1;
    } else if (c === '<') {
      hold(lineStartAt(paragraph, i));
      spans.push({ start: lineStartAt(paragraph, i), end: paragraph.length });
      i += 1;
    } else if (c === '[' || (c === '!' && paragraph[i + 1] === '[')) {
      opened.push(i);
      i += c === '!' ? 2 : 1;
    } else if (c === ']' && opened.length > 0) {
      const start = opened.pop() ?? i;
      const next = closedGroupEnd(paragraph, start, i);
      if (next === undefined) hold(start);
      // Not followed by a valid inline destination.
      else if (paragraph[start] === '!' && next === i + 1) {
        imageReference ??= start;
      }
      spans.push({ start, end: next ?? paragraph.length });
      if (next !== undefined && paragraph.slice(start, next).includes('\n')) hold(start);
      if (opened.length === 0) chain = paragraph[i + 1] === '[' ? (chain ?? start) : undefined;
      i = next ?? i + 1;
    } else {
      i += 1;
    }
  }
  if (opened.length > 0 || chain !== undefined) hold(paragraph.length);
  return { open: open ?? paragraph.length, imageReference, spans };
}

/**
 * Where scanning goes on after the `]` at `close` of the group opened at `start`, or undefined
 * while the group is still open: its `](...)` not closed, or it may be a reference definition.
 */
function closedGroupEnd(paragraph: string, start: number, close: number): number | undefined {
  const next = paragraph[close + 1];
  if (next === undefined) return undefined;
  if (next === '(') {
    const end = inlineLinkEnd(paragraph, close + 1);
    if (end === 'open') return undefined;
    return end === 'invalid' ? close + 1 : end;
  }
  if (next === ':') {
    const line = paragraph.slice(lineStartAt(paragraph, start), start);
    return DEFINITION_LINE_PREFIX.test(line) ? undefined : close + 1;
  }
  return close + 1;
}

/** After a backtick run at `at`, the end of its matching run, or undefined if none yet. */
function codeSpanEnd(paragraph: string, at: number): number | undefined {
  let end = at;
  while (paragraph[end] === '`') end += 1;
  const run = end - at;
  for (let i = end; i < paragraph.length;) {
    if (paragraph[i] !== '`') {
      i += 1;
      continue;
    }
    let j = i;
    while (paragraph[j] === '`') j += 1;
    if (j - i === run) return j;
    i = j;
  }
  return undefined;
}

/**
 * For the `(` at `at` after a `]`: the offset after the closing `)` of an inline link's
 * destination and title, 'open' if more text could still close it, 'invalid' if none can.
 */
function inlineLinkEnd(paragraph: string, at: number): number | 'open' | 'invalid' {
  let i = skipSpace(paragraph, at + 1);
  if (i === paragraph.length) return 'open';
  if (paragraph[i] === '<') {
    i += 1;
    while (i < paragraph.length && paragraph[i] !== '>') {
      if (paragraph[i] === '\n' || paragraph[i] === '<') return 'invalid';
      i += paragraph[i] === '\\' ? 2 : 1;
    }
    if (i >= paragraph.length) return 'open';
    i += 1;
  } else {
    let depth = 0;
    while (i < paragraph.length) {
      const c = paragraph[i] ?? '';
      if (c === '\\') i += 2;
      else if (c <= ' ' || c === '\u007f') break;
      else if (c === ')' && depth === 0) break;
      else {
        if (c === '(') depth += 1;
        if (c === ')') depth -= 1;
        i += 1;
      }
    }
    if (i >= paragraph.length) return 'open';
  }
  const beforeTitle = i;
  i = skipSpace(paragraph, i);
  if (i >= paragraph.length) return 'open';
  if (paragraph[i] === ')') return i + 1;
  const quote = paragraph[i];
  const closer = quote === '(' ? ')' : quote;
  if (i === beforeTitle || (quote !== '"' && quote !== "'" && quote !== '(')) return 'invalid';
  i += 1;
  while (i < paragraph.length && paragraph[i] !== closer) i += paragraph[i] === '\\' ? 2 : 1;
  if (i >= paragraph.length) return 'open';
  i = skipSpace(paragraph, i + 1);
  if (i >= paragraph.length) return 'open';
  return paragraph[i] === ')' ? i + 1 : 'invalid';
}

function skipSpace(text: string, at: number): number {
  let i = at;
  while (i < text.length && WHITESPACE.test(text[i] ?? '')) i += 1;
  return i;
}
