/**
 * A fresh clone must work on its own. The product owner's `shared` folder beside the repository (specs and
 * sample payloads) is input, absent in CI: nothing in the repository may reach it. Samples the tests need
 * live in test/fixtures (with their provenance), the project's docs in docs/.
 *
 * A relative path to a `shared` folder counts when it leaves the repository, resolved from the file's own
 * folder, or from the root when the file-relative reading names nothing (scripts and README paths are
 * relative to the root). So one level up then `shared/config`, from services/x/, would name a services/shared
 * folder if there were one, and be fine; two levels up then `shared`, from scripts/, leaves the repository and is not. The absolute path of the sibling folder and the retired
 * STORELINE_SHARED_DIR variable count too.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';

const ROOT = resolve(__dirname, '..');
const SHARED_ABS = resolve(ROOT, '..', 'shared');
const SELF = relative(ROOT, __filename).split(sep).join('/');

const RELATIVE = /(?:\.\.\/)+shared(?:\/[^\s'"`)\],;]*)?/g;
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// Not part of a longer path (a root of /repo makes /shared, which `services/shared` must not match).
const ABSOLUTE = new RegExp(`(?<![\\w.\\-/])${escapeRegExp(SHARED_ABS)}(?![\\w.\\-])`);

const leavesRoot = (p: string) => {
  const r = relative(ROOT, p);
  return r === '..' || r.startsWith(`..${sep}`) || isAbsolute(r);
};
const names = (p: string) => ['', '.ts', '.js', '.mjs', '.json', '.md'].some((ext) => existsSync(p + ext));

/** The references to the outside `shared` folder in one file (path relative to the root). */
function outsideReferences(file: string, text: string): string[] {
  const hits = new Set<string>();
  for (const literal of text.match(RELATIVE) ?? []) {
    const fromFile = resolve(ROOT, dirname(file), literal);
    if (leavesRoot(fromFile) || (!names(fromFile) && leavesRoot(resolve(ROOT, literal)))) hits.add(literal);
  }
  if (ABSOLUTE.test(text)) hits.add(SHARED_ABS);
  if (text.includes('STORELINE_SHARED_DIR')) hits.add('STORELINE_SHARED_DIR');
  return [...hits];
}

/** What a file says: a symlink's target (a link to the outside folder counts too), a text file's content. */
function contentOf(file: string): string | undefined {
  const path = resolve(ROOT, file);
  const stat = lstatSync(path, { throwIfNoEntry: false });
  if (!stat) return undefined; // deleted in the working tree
  if (stat.isSymbolicLink()) return readlinkSync(path); // dangling too: a clone has no outside folder
  if (!stat.isFile()) return undefined;
  const bytes = readFileSync(path);
  return bytes.includes(0) ? undefined : bytes.toString('utf8'); // binary: no paths to read
}

/** Tracked files plus new ones not ignored, so a reference is caught before it is committed. */
function repositoryFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return [...new Set(out.split('\0').filter(Boolean))];
}

// Provenance notes of the copied samples say where they came from, in their authors' words.
const isProvenance = (file: string) => file.startsWith('test/fixtures/') && /\.(txt|md)$/.test(file);

/**
 * `n` levels up, then the shared folder. Built, not written out: this file's own examples would otherwise
 * be what every scanner of the repository (this test's second case included) reports.
 */
const up = (n: number, rest = '') => `${'../'.repeat(n)}shared${rest}`;

describe('no file reaches the shared folder outside the repository', () => {
  it('tells outside references from in-repo ones', () => {
    expect(outsideReferences('scripts/demo.ts', `resolve(__dirname, '${up(2)}')`)).toEqual([up(2)]);
    expect(outsideReferences('test/support/x.ts', `'${up(3, '/fixtures/app-store')}'`)).toHaveLength(1);
    expect(outsideReferences('README.md', `[a](${up(1, '/docs/canonical-events.md')})`)).toHaveLength(1);
    expect(outsideReferences('README.md', `curl --data-binary @${up(1, '/fixtures/a.json')}`)).toHaveLength(
      1,
    );
    expect(outsideReferences('services/x/a.ts', `see ${up(1, '/docs/architecture.md')}`)).toHaveLength(1);
    expect(outsideReferences('bench/a.ts', `'${SHARED_ABS}/fixtures'`)).toEqual([SHARED_ABS]);
    expect(outsideReferences('scripts/a.ts', 'process.env.STORELINE_SHARED_DIR')).toHaveLength(1);

    // No in-repo folder is named `shared` since the lib/ layout, so one level up from services/x/ leaves
    // nothing in the repository to name and counts as outside.
    expect(outsideReferences('services/cli/a.ts', `import('${up(1, '/config')}')`)).toHaveLength(1);
    expect(outsideReferences('test/support/a.ts', "'../../services/shared/publisher'")).toEqual([]);
    expect(outsideReferences('README.md', '`services/shared/topics.ts`, test/fixtures/app-store')).toEqual(
      [],
    );
  });

  it('in any tracked or new file', () => {
    const offending = repositoryFiles()
      .filter((f) => f !== SELF && !isProvenance(f))
      .flatMap((f) => {
        const text = contentOf(f);
        return text === undefined ? [] : outsideReferences(f, text).map((ref) => `${f}: ${ref}`);
      });
    expect(offending).toEqual([]);
  });
});
