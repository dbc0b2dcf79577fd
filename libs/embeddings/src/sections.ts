/** A run of text under one heading path; the heading line itself is not part of `body`. */
export interface Section {
  readonly heading: string | undefined;
  readonly body: string;
  /** Page breaks (form feeds, U+000C) in the text before `body` begins. */
  readonly breaks: number;
}

/** The page break of extracted text (as pdftotext writes it): a form feed. */
export const PAGE_BREAK = '\f';

function countBreaks(line: string): number {
  let n = 0;
  for (let i = line.indexOf(PAGE_BREAK); i !== -1; i = line.indexOf(PAGE_BREAK, i + 1)) n++;
  return n;
}

// CommonMark ATX heading: up to 3 spaces, 1-6 '#', then a space or the end of the line, and an
// optional closing run of '#'. "#hashtag" is not a heading.
const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

class FenceTracker {
  #open: string | undefined;

  /** Whether `line` is inside (or opens or closes) a fenced code block. */
  inside(line: string): boolean {
    const marker = FENCE.exec(line)?.[1];
    if (this.#open === undefined) {
      if (marker === undefined) return false;
      this.#open = marker;
      return true;
    }
    const closes =
      marker !== undefined &&
      marker[0] === this.#open[0] &&
      marker.length >= this.#open.length &&
      line.trim() === marker;
    if (closes) this.#open = undefined;
    return true;
  }
}

/**
 * Splits markdown-ish text at ATX headings. Each section carries the path of the headings above
 * it (`Methods > Sampling`); text before the first heading has no heading. Lines inside fenced
 * code blocks are never headings, so a shell comment does not open a section.
 */
export function splitSections(text: string): Section[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const levels: (string | undefined)[] = [];
  const fences = new FenceTracker();
  const sections: Section[] = [];
  let heading: string | undefined;
  let body: string[] = [];
  let breaks = 0;
  let bodyBreaks = 0;

  for (const line of lines) {
    // A page may begin with a heading: the form feed before it does not hide it.
    const bare = line.replace(/^\f+/u, '');
    const match = fences.inside(bare) ? null : ATX_HEADING.exec(bare);
    if (match === null) {
      body.push(line);
      breaks += countBreaks(line);
      continue;
    }
    sections.push({ heading, body: body.join('\n'), breaks: bodyBreaks });
    breaks += countBreaks(line);
    bodyBreaks = breaks;
    const level = match[1]?.length ?? 1;
    levels.length = level;
    levels[level - 1] = match[2]?.trim() || undefined;
    const path = levels.filter((title): title is string => title !== undefined);
    heading = path.length > 0 ? path.join(' > ') : undefined;
    body = [];
  }
  sections.push({ heading, body: body.join('\n'), breaks: bodyBreaks });
  return sections.filter((section) => /\S/.test(section.body));
}
