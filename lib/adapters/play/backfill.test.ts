import type { VoidedPurchase } from '../../core/play/ports';
import type { BackfillRecord } from '../../core/play/voidedBackfill';
import { backfillVoidedPurchases, type VoidedBackfillDeps, type VoidedProgress } from './backfill';

const v = (orderId: string): VoidedPurchase => ({
  purchaseToken: `tok-${orderId}`,
  orderId,
  voidedTimeMillis: '5',
});

function setup(pages: { voidedPurchases: VoidedPurchase[]; nextPageToken?: string }[], stopAfter?: number) {
  const queries: unknown[] = [];
  const sent: BackfillRecord[][] = [];
  const seen: { pages: number; found: number; published: number }[] = [];
  const deps: VoidedBackfillDeps = {
    list: async (_pkg, q) => {
      queries.push(q);
      return pages[queries.length - 1]!;
    },
    send: async (records) => {
      sent.push(records);
    },
    onPage: (p, page) => seen.push({ pages: p.pages, ...page }),
    now: () => 1000,
    sleep: async () => undefined,
    stopping: () => stopAfter !== undefined && queries.length >= stopAfter,
  };
  return { deps, queries, sent, seen };
}

const run = (progress: VoidedProgress) => ({
  packageName: 'com.example',
  since: 1,
  until: 9,
  pageSize: 2,
  minIntervalMs: 0,
  progress,
});

describe('backfillVoidedPurchases', () => {
  it('reads the range, then follows page tokens, sending each page and skipping incomplete entries', async () => {
    const t = setup([
      { voidedPurchases: [v('A'), { orderId: 'no-token' }], nextPageToken: 'p2' },
      { voidedPurchases: [v('B')] },
    ]);
    const progress: VoidedProgress = { done: false, pages: 0, found: 0, published: 0 };
    await backfillVoidedPurchases(t.deps, run(progress));
    expect(t.queries).toEqual([
      { type: 1, maxResults: 2, startTime: 1, endTime: 9 },
      { type: 1, maxResults: 2, token: 'p2' },
    ]);
    expect(t.sent.map((page) => page.map((r) => r.key))).toEqual([['tok-A'], ['tok-B']]);
    expect(t.seen).toEqual([
      { pages: 1, found: 2, published: 1 },
      { pages: 2, found: 1, published: 1 },
    ]);
    expect(progress).toEqual({ done: true, pages: 2, found: 3, published: 2, nextPageToken: undefined });
  });

  it('resumes at the saved page token and stops between pages when asked', async () => {
    const t = setup([{ voidedPurchases: [v('B')], nextPageToken: 'p3' }, { voidedPurchases: [v('C')] }], 1);
    const progress: VoidedProgress = { done: false, pages: 1, found: 1, published: 1, nextPageToken: 'p2' };
    await backfillVoidedPurchases(t.deps, run(progress));
    expect(t.queries).toEqual([{ type: 1, maxResults: 2, token: 'p2' }]);
    expect(progress).toEqual({ done: false, pages: 2, found: 2, published: 2, nextPageToken: 'p3' });
  });
});
