/**
 * The README stays short enough to read, and it and docs/ keep their promises to each other (issue #25): every
 * relative link reaches a file (and, into a Markdown file, a heading), every docs/ page opens with a table of
 * contents of its own sections and is linked from the README, and every error code is in the README's table.
 * The codes are read from the source text of the `ParErrorCode` union, wherever in lib/ it lives.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const docsPages = readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).sort()
  .map((name) => `docs/${name}`);
const pages = ['README.md', ...docsPages];

/** The lines of a Markdown file outside fenced code blocks. */
function prose(markdown: string): string[] {
  let fenced = false;
  return markdown.split('\n').filter((line) => {
    if (line.startsWith('```')) fenced = !fenced;
    return !fenced && !line.startsWith('```');
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen. */
function slug(heading: string): string {
  const text = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, '').toLowerCase();
  return text.replace(/[^\p{L}\p{N}_\- ]/gu, '').replace(/ /g, '-');
}

/** The headings of a Markdown file, level and anchor (repeated anchors get -1, -2, … as on GitHub). */
function headings(markdown: string): { level: number; text: string; anchor: string }[] {
  const seen = new Map<string, number>();
  return prose(markdown).flatMap((line) => {
    const match = /^(#{1,6}) (.+)$/.exec(line);
    if (!match) return [];
    const base = slug(match[2]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    return [{ level: match[1]!.length, text: match[2]!, anchor: count ? `${base}-${count}` : base }];
  });
}

/** Every `[text](target)` link of a file outside code blocks, web and mail links left out. */
function relativeLinks(markdown: string): string[] {
  const links = prose(markdown).flatMap((line) => [...line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)]);
  return links.map((match) => match[1]!).filter((target) => !/^(https?:|mailto:)/.test(target));
}

/** The section of a Markdown file under a `## ` heading, up to the next one. */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`no "## ${heading}" section`);
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

/** The file under lib/ whose text declares `ParErrorCode`, found by reading, so a move of the file does not matter. */
function errorCodesFromSource(): string[] {
  const files = (dir: string): string[] => readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
  const declaring = files(join(root, 'lib')).map((path) => readFileSync(path, 'utf8'))
    .filter((text) => /export type ParErrorCode\s*=/.test(text));
  expect(declaring).toHaveLength(1);
  const union = /export type ParErrorCode\s*=([^;]*);/.exec(declaring[0]!)![1]!;
  return [...union.replace(/\/\/.*$/gm, '').matchAll(/'([a-z0-9_]+)'/g)].map((match) => match[1]!);
}

describe('the README and docs/', () => {
  // ~400 lines (issue #25), with room for the provider doctor's two outputs (issue #28), shown in full.
  it('keeps the README at most 410 lines, with the two commands CI and newcomers run', () => {
    const readme = read('README.md');
    expect(readme.split('\n').length).toBeLessThanOrEqual(410);
    expect(readme).toContain('\nnpm ci && npm run demo\n');
    expect(readme).toContain('\nnpm test\n');
  });

  it('has every relative link of the README and of docs/ reach a file, and a heading of it when one is named', () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const link of relativeLinks(read(page))) {
        const [path, anchor] = link.split('#') as [string, string | undefined];
        const target = path === '' ? join(root, page) : resolve(join(root, dirname(page)), path);
        if (!existsSync(target) || !relative(root, target) || relative(root, target).startsWith('..')) {
          broken.push(`${page}: ${link} (no such file)`);
        } else if (anchor !== undefined && target.endsWith('.md')) {
          const found = headings(readFileSync(target, 'utf8')).some((h) => h.anchor === anchor);
          if (!found) broken.push(`${page}: ${link} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('opens every docs/ page with a title, then a table of contents that links each of its sections', () => {
    expect(docsPages.length).toBeGreaterThan(0);
    for (const page of docsPages) {
      const markdown = read(page);
      expect({ page, title: /^# \S/.test(markdown) }).toEqual({ page, title: true });
      const sections = headings(markdown).filter((h) => h.level === 2);
      const beforeFirstSection = markdown.slice(0, markdown.indexOf('\n## '));
      const inPage = relativeLinks(beforeFirstSection).filter((link) => link.startsWith('#'));
      const contents = new Set(inPage.map((link) => link.slice(1)));
      const missing = sections.map((h) => h.anchor).filter((anchor) => !contents.has(anchor));
      expect({ page, missing }).toEqual({ page, missing: [] });
    }
  });

  it('links every docs/ page from the README', () => {
    const linked = new Set(relativeLinks(read('README.md')).map((link) => link.split('#')[0]));
    expect(docsPages.filter((page) => !linked.has(page))).toEqual([]);
  });

  it('documents every ParErrorCode, and only those, in the README\'s error table', () => {
    const codes = errorCodesFromSource();
    expect(codes.length).toBeGreaterThan(20);
    const rows = section(read('README.md'), 'Errors').matchAll(/^\| `([a-z0-9_]+)` \| (\d{3}) \|/gm);
    const table = [...rows].map((match) => match[1]!);
    expect([...table].sort()).toEqual([...new Set(codes)].sort());
  });
});
