/**
 * Backfill of App Store notifications from Get Notification History: page after page, each signedPayload
 * is verified exactly as the receiver verifies a pushed one (acceptAppStore) and published to the raw App
 * Store topic with the receiver's key and headers plus `backfill: app-store:notification-history`. The
 * normalizer's claims by notificationUUID make this idempotent: a notification it already has yields
 * nothing, a missed one its events. The checkpoint is written after each page is durably published, so an
 * interrupted run resumes after its last completed page (the page in progress is read again, harmlessly).
 */
import { randomUUID } from 'node:crypto';
import type { AppleVerifier } from '../../core/app-store/verify';
import { acceptAppStore } from '../../core/ingest/acceptAppStore';
import { RAW_HEADERS } from '../../core/rawHeaders';
import type { Publish } from '../../platform/publisher';
import type { BackfillCheckpoint, CheckpointFile } from './checkpoint';
import type { HistoryRange, NotificationHistoryPage } from './serverApi';

const BACKFILL_SOURCE = 'app-store:notification-history';

export interface BackfillDeps {
  history: (range: HistoryRange, paginationToken?: string) => Promise<NotificationHistoryPage>;
  verifier: AppleVerifier;
  publish: Publish;
  rawTopic: string;
  checkpoint: CheckpointFile;
  /** How many of these notification ids the normalizer has already claimed (needs the database). */
  seen?: (notificationIds: string[]) => Promise<number>;
  progress: (line: string) => void;
  now: () => number;
}

export interface BackfillRun {
  bundleId: string;
  environment: string;
  range: HistoryRange;
  /** Resume from this checkpoint (same range) instead of the first page. */
  resume?: BackfillCheckpoint;
  /** Stop after this many pages in this run, keeping the checkpoint. */
  maxPages?: number;
}

export interface BackfillSummary extends BackfillCheckpoint {
  complete: boolean;
}

interface Accepted {
  body: Buffer;
  key: string;
  id: string;
  env: string;
}

export async function backfillNotificationHistory(
  deps: BackfillDeps,
  run: BackfillRun,
): Promise<BackfillSummary> {
  let state: BackfillCheckpoint = run.resume ?? {
    version: 1,
    bundleId: run.bundleId,
    environment: run.environment,
    startDate: run.range.startDate,
    endDate: run.range.endDate,
    pages: 0,
    found: 0,
    published: 0,
    rejected: 0,
    updatedAt: new Date(deps.now()).toISOString(),
  };
  for (let pagesThisRun = 0; ;) {
    const page = await deps.history(run.range, state.paginationToken);
    pagesThisRun++;
    const { accepted, rejected } = verifyPage(page, deps);
    const seen = deps.seen ? await deps.seen(accepted.map((a) => a.id)) : undefined;
    await Promise.all(accepted.map((a) => publishOne(a, deps)));
    state = next(state, page, { accepted: accepted.length, rejected, seen }, deps.now());
    deps.progress(pageLine(state, page.notificationHistory.length, accepted.length, seen));
    if (!page.hasMore) {
      deps.checkpoint.remove();
      return { ...state, complete: true };
    }
    deps.checkpoint.write(state);
    if (run.maxPages !== undefined && pagesThisRun >= run.maxPages) return { ...state, complete: false };
  }
}

function verifyPage(
  page: NotificationHistoryPage,
  deps: BackfillDeps,
): { accepted: Accepted[]; rejected: number } {
  const accepted: Accepted[] = [];
  let rejected = 0;
  for (const item of page.notificationHistory) {
    // The body the receiver would have got from Apple's push, byte for byte in shape.
    const body = Buffer.from(JSON.stringify({ signedPayload: item.signedPayload }));
    const verdict = acceptAppStore(
      { format: 'app-store-v2', body, contentType: 'application/json', now: deps.now() },
      { verifier: deps.verifier },
    );
    if ('rejected' in verdict) {
      rejected++;
      deps.progress(`  refused a signedPayload (${verdict.rejected.check}): ${verdict.rejected.message}`);
      continue;
    }
    accepted.push({ body, ...verdict.accepted });
  }
  return { accepted, rejected };
}

/** The receiver's record (services/receiver-app-store/app.ts), marked as a backfill. */
function publishOne(a: Accepted, deps: BackfillDeps): Promise<void> {
  return deps.publish({
    topic: deps.rawTopic,
    key: a.key,
    value: a.body,
    headers: {
      [RAW_HEADERS.format]: 'app-store-v2',
      [RAW_HEADERS.receivedAt]: String(deps.now()),
      [RAW_HEADERS.requestId]: randomUUID(),
      [RAW_HEADERS.environment]: a.env,
      [RAW_HEADERS.notificationId]: a.id,
      [RAW_HEADERS.backfill]: BACKFILL_SOURCE,
    },
  });
}

function next(
  s: BackfillCheckpoint,
  page: NotificationHistoryPage,
  n: { accepted: number; rejected: number; seen: number | undefined },
  now: number,
): BackfillCheckpoint {
  if (page.hasMore && !page.paginationToken)
    throw new Error('notification history says hasMore but gives no paginationToken');
  return {
    ...s,
    paginationToken: page.hasMore ? page.paginationToken : undefined,
    pages: s.pages + 1,
    found: s.found + page.notificationHistory.length,
    published: s.published + n.accepted,
    rejected: s.rejected + n.rejected,
    ...(n.seen === undefined ? {} : { alreadySeen: (s.alreadySeen ?? 0) + n.seen }),
    updatedAt: new Date(now).toISOString(),
  };
}

function pageLine(s: BackfillCheckpoint, found: number, published: number, seen: number | undefined): string {
  const dedupe =
    seen === undefined
      ? 'the normalizer drops those it has already seen'
      : `${seen} already seen by the normalizer, ${published - seen} new`;
  return `page ${s.pages}: ${found} notifications, ${published} published (${dedupe})`;
}
