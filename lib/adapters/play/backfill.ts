/**
 * Backfill of Play voided purchases (refunds and revocations Google may never have sent as RTDN), one
 * package page by page from `purchases.voidedpurchases.list`, each page's records sent before the next is
 * read. Shared by `storeline backfill play-store` and the scheduled backfill service. `progress` is updated
 * in place after every page (the CLI checkpoints it), so a run can resume at its `nextPageToken`.
 * https://developers.google.com/android-publisher/api-ref/rest/v3/purchases.voidedpurchases/list
 */
import { randomUUID } from 'node:crypto';
import type { VoidedPurchase } from '../../core/play/ports';
import { voidedRecord, type BackfillRecord } from '../../core/play/voidedBackfill';

/** Where one package's run stands; written after each page. */
export interface VoidedProgress {
  nextPageToken?: string | undefined;
  done: boolean;
  pages: number;
  found: number;
  published: number;
}

export interface VoidedBackfillDeps {
  list: (
    packageName: string,
    opts: { type: 1; maxResults: number; startTime?: number; endTime?: number; token?: string },
  ) => Promise<{ voidedPurchases: VoidedPurchase[]; nextPageToken?: string | undefined }>;
  /** Publishes one page's records durably (resolves once acknowledged). */
  send: (records: BackfillRecord[]) => Promise<void>;
  /** After each page: `found` and `published` are this page's. */
  onPage: (progress: VoidedProgress, page: { found: number; published: number }) => void;
  now: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Checked before each page after the first: true ends the run early (progress says where). */
  stopping?: () => boolean;
}

export interface VoidedBackfillRun {
  packageName: string;
  since: number;
  until: number;
  pageSize: number;
  minIntervalMs: number;
  progress: VoidedProgress;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Reads every page of one package's voided purchases in the range and sends them, page by page. */
export async function backfillVoidedPurchases(
  deps: VoidedBackfillDeps,
  run: VoidedBackfillRun,
): Promise<void> {
  const { progress } = run;
  const sleep = deps.sleep ?? defaultSleep;
  const requestId = `backfill-${randomUUID()}`;
  for (let pagesThisRun = 0; !progress.done; pagesThisRun++) {
    if (pagesThisRun > 0 && deps.stopping?.()) return;
    if (progress.pages > 0) await sleep(run.minIntervalMs);
    // type=1: voided subscriptions too (type=0, the default, is one-time products only).
    const page = await deps.list(run.packageName, {
      type: 1,
      maxResults: run.pageSize,
      ...(progress.nextPageToken
        ? { token: progress.nextPageToken }
        : { startTime: run.since, endTime: run.until }),
    });
    const receivedAt = deps.now();
    const records = page.voidedPurchases.flatMap(
      (v) => voidedRecord(v, run.packageName, { receivedAt, requestId }) ?? [],
    );
    if (records.length > 0) await deps.send(records);
    progress.pages += 1;
    progress.found += page.voidedPurchases.length;
    progress.published += records.length;
    progress.nextPageToken = page.nextPageToken;
    progress.done = !page.nextPageToken;
    deps.onPage(progress, { found: page.voidedPurchases.length, published: records.length });
  }
}
