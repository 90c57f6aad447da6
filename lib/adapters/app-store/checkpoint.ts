/**
 * The backfill's checkpoint file: the range it works on, the pagination token of the next page and the
 * counts so far, rewritten after every completed page (write to a temporary file, then rename, so a crash
 * never leaves half a file). A run over the same range resumes from it; a finished run removes it.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';

const Checkpoint = z.object({
  version: z.literal(1),
  bundleId: z.string(),
  environment: z.string(),
  startDate: z.number().int(),
  endDate: z.number().int(),
  /** The next page's token; absent before the first page completed. */
  paginationToken: z.string().optional(),
  pages: z.number().int().min(0),
  found: z.number().int().min(0),
  published: z.number().int().min(0),
  rejected: z.number().int().min(0),
  /** Notifications the normalizer had already claimed when their page was read (with DATABASE_URL). */
  alreadySeen: z.number().int().min(0).optional(),
  updatedAt: z.string(),
});
export type BackfillCheckpoint = z.output<typeof Checkpoint>;

export class CheckpointFile {
  constructor(readonly path: string) {}

  /** The saved checkpoint; undefined when there is none. A file that is not one is an error. */
  read(): BackfillCheckpoint | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`${this.path} is not a backfill checkpoint (not JSON)`);
    }
    const parsed = Checkpoint.safeParse(json);
    if (!parsed.success) throw new Error(`${this.path} is not a backfill checkpoint`);
    return parsed.data;
  }

  write(c: BackfillCheckpoint): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(c, null, 2)}\n`);
    renameSync(tmp, this.path);
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}
