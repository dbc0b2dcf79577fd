import type { Nodes, Root } from 'mdast';
import { fromMarkdown } from 'mdast-util-from-markdown';
import { gfmAutolinkLiteralFromMarkdown } from 'mdast-util-gfm-autolink-literal';
import { gfmAutolinkLiteral } from 'micromark-extension-gfm-autolink-literal';
import { visit } from 'unist-util-visit';

/** Where a removed image or link was. */
export const IMAGE_REMOVED = '[image removed]';
export const LINK_REMOVED = '[link removed]';

/** Any absolute or protocol-relative URL, wherever it appears in the text. */
const URL_IN_TEXT = /(?:\b[a-z][a-z0-9+.-]*:)?\/\/[^\s<>()"'`[\]]+/giu;
/** Raw HTML that can make a renderer fetch or link something. */
const ACTIVE_HTML =
  /\b(?:src|href|srcset|action|formaction|background|poster|data)\s*=|<\s*img\b/iu;

/**
 * Text without any of these cannot hold a link, an image, a definition, raw HTML or an
 * autolink, so most answers (which cite as `[n]`) skip the parser.
 */
const MAY_LINK = /\]\(|\]:|\]\[|<|\/\/|www\.|@/iu;

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/**
 * Removes from a model's answer every markdown image and every link whose target is not an
 * https or http URL on an allowed host (or a subdomain of one): a passage that carries
 * injected instructions could otherwise make the answer exfiltrate data through a URL the
 * caller's renderer fetches (an image) or invites a click on (a link). The answer is parsed as
 * markdown (CommonMark + GFM autolinks) so links are found as renderers find them; then, in
 * case a renderer parses differently, any URL left anywhere in the text that is not allowed
 * is removed too. A link keeps its text; an image keeps nothing but a marker.
 */
export function removeForeignLinks(answer: string, allowedHosts: readonly string[]): string {
  return sanitizeAnswer(answer, allowedHosts).text;
}

/** The sanitized answer, and where a place in the answer ends up in it. */
export interface SanitizedAnswer {
  readonly text: string;
  /**
   * Where offset `at` of the answer lands in `text`, or, when `at` falls strictly inside a
   * removed span (where no place in `text` corresponds to it), `{ inside }` with the offset in
   * the answer where the first such span starts.
   */
  outputOffset(at: number): number | { readonly inside: number };
}

/**
 * {@link removeForeignLinks}, keeping the map from the answer to its sanitized text that a
 * stream needs to emit the sanitized text piece by piece.
 */
export function sanitizeAnswer(answer: string, allowedHosts: readonly string[]): SanitizedAnswer {
  if (!MAY_LINK.test(answer)) return { text: answer, outputOffset: (at) => at };
  const allowed = (url: string) => isAllowed(url, allowedHosts);
  const tree = fromMarkdown(answer, {
    extensions: [gfmAutolinkLiteral()],
    mdastExtensions: [gfmAutolinkLiteralFromMarkdown()],
  });
  const definitions = definitionsOf(tree);
  const edits: Edit[] = [];
  visit(tree, (node: Nodes) => {
    const edit = editFor(node, answer, allowed, definitions);
    if (edit === undefined) return undefined;
    edits.push(edit);
    return 'skip';
  });
  const applied = appliedEdits(edits);
  const parsed = applyEdits(answer, applied);
  const urls: Edit[] = [];
  const text = parsed.replace(URL_IN_TEXT, (url: string, offset: number) => {
    if (allowed(url)) return url;
    urls.push({ start: offset, end: offset + url.length, text: LINK_REMOVED });
    return LINK_REMOVED;
  });
  return {
    text,
    outputOffset(at) {
      const inParsed = shifted(at, applied);
      if (typeof inParsed !== 'number') return inParsed;
      const inText = shifted(inParsed, urls);
      if (typeof inText === 'number') return inText;
      return { inside: unshifted(inText.inside, applied) };
    },
  };
}

/** Where `at` lands once `edits` (sorted, not overlapping) are applied. */
function shifted(at: number, edits: readonly Edit[]): number | { inside: number } {
  let delta = 0;
  for (const edit of edits) {
    if (edit.end <= at) delta += edit.text.length - (edit.end - edit.start);
    else if (edit.start < at) return { inside: edit.start };
    else break;
  }
  return at + delta;
}

/** The offset in the source of an offset `at` after `edits` were applied (an edit's start). */
function unshifted(at: number, edits: readonly Edit[]): number {
  let delta = 0;
  for (const edit of edits) {
    if (at < edit.start + delta) break;
    if (at < edit.start + delta + edit.text.length) return edit.start;
    delta += edit.text.length - (edit.end - edit.start);
  }
  return at - delta;
}

function editFor(
  node: Nodes,
  source: string,
  allowed: (url: string) => boolean,
  definitions: ReadonlyMap<string, string>,
): Edit | undefined {
  const start = node.position?.start.offset;
  const end = node.position?.end.offset;
  if (start === undefined || end === undefined) return undefined;
  const removed = (url: string, text: string): Edit | undefined =>
    allowed(url) ? undefined : { start, end, text };
  if (node.type === 'image') return removed(node.url, IMAGE_REMOVED);
  if (node.type === 'imageReference') {
    return removed(definitions.get(node.identifier) ?? '', IMAGE_REMOVED);
  }
  if (node.type === 'link') return removed(node.url, labelOf(node, node.url, source));
  if (node.type === 'linkReference') {
    const url = definitions.get(node.identifier) ?? '';
    return removed(url, labelOf(node, url, source));
  }
  if (node.type === 'definition') return removed(node.url, '');
  if (node.type === 'html' && ACTIVE_HTML.test(node.value)) return { start, end, text: '' };
  return undefined;
}

/**
 * The source text of a link's label, or the marker when the label shows the target itself (an
 * autolink such as `www.example.com/?d=...`, which a renderer would make a link again).
 */
function labelOf(node: Nodes & { children: Nodes[] }, url: string, source: string): string {
  const first = node.children[0]?.position?.start.offset;
  const last = node.children.at(-1)?.position?.end.offset;
  if (first === undefined || last === undefined) return LINK_REMOVED;
  const label = source.slice(first, last);
  const host = hostOf(url);
  const showsTarget =
    /www\.|:\/\/|@/iu.test(label) || (host !== '' && label.toLowerCase().includes(host));
  return showsTarget ? LINK_REMOVED : label;
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return '';
  }
}

function definitionsOf(tree: Root): Map<string, string> {
  const definitions = new Map<string, string>();
  visit(tree, 'definition', (node) => {
    if (!definitions.has(node.identifier)) definitions.set(node.identifier, node.url);
  });
  return definitions;
}

/** The edits that apply: in order, and of overlapping ones the first. */
function appliedEdits(edits: readonly Edit[]): Edit[] {
  const applied: Edit[] = [];
  let at = 0;
  for (const edit of [...edits].sort((a, b) => a.start - b.start)) {
    if (edit.start < at) continue;
    applied.push(edit);
    at = edit.end;
  }
  return applied;
}

function applyEdits(source: string, edits: readonly Edit[]): string {
  let result = '';
  let at = 0;
  for (const edit of edits) {
    result += source.slice(at, edit.start) + edit.text;
    at = edit.end;
  }
  return result + source.slice(at);
}

/** Whether `url` is an http(s) URL whose host is an allowed host or a subdomain of one. */
function isAllowed(url: string, allowedHosts: readonly string[]): boolean {
  if (allowedHosts.length === 0) return false;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return false;
  if (parsed.username !== '' || parsed.password !== '') return false;
  const host = parsed.hostname.toLowerCase();
  return allowedHosts.some((allowed) => host === allowed || host.endsWith(`.${allowed}`));
}
