/** Every relative link in README.md and docs/ points at a file that exists, and at a heading it has. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
const PAGES = [
  'README.md',
  'bench/README.md',
  ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`),
].filter((f) => f.endsWith('.md'));

/** GitHub's heading anchors, close enough for the headings these pages use. */
const slug = (h: string) =>
  h
    .trim()
    .toLowerCase()
    .replace(/[`*]/g, '')
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');

function anchors(file: string): Set<string> {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return new Set([...text.matchAll(/^#+ (.*)$/gm)].map((m) => slug(m[1]!)));
}

function brokenLinks(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
  const broken: string[] = [];
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^(https?:|mailto:)/.test(target!)) continue;
    const [path, anchor] = target!.split('#');
    const to = path ? normalize(join(dirname(file), path)) : file;
    if (!existsSync(join(ROOT, to))) broken.push(`${target} (no file ${to})`);
    else if (anchor && to.endsWith('.md') && !anchors(to).has(anchor)) broken.push(`${target} (no heading)`);
  }
  return broken;
}

describe('documentation links', () => {
  it.each(PAGES)('%s has no broken relative link', (file) => {
    expect(brokenLinks(file)).toEqual([]);
  });
});
