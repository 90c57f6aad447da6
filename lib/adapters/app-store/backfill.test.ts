import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { AppleVerifier } from '../../core/app-store/verify';
import { createPki, signJws, type Pki } from '../../../test/kit/appleSigning';
import { notification } from '../../../test/kit/builders/appStore';
import { historyItem } from '../../../test/kit/appStoreServerApi';
import { backfillNotificationHistory, type BackfillDeps } from './backfill';
import { CheckpointFile } from './checkpoint';
import type { NotificationHistoryPage } from './serverApi';

let pki: Pki;
beforeAll(async () => {
  pki = await createPki();
});

function item() {
  const n = notification('DID_RENEW');
  n.payload.notificationUUID = randomUUID();
  return historyItem(n, pki);
}

function deps(pages: NotificationHistoryPage[], over: Partial<BackfillDeps> = {}) {
  const published: { key: string; headers: Record<string, string> }[] = [];
  const lines: string[] = [];
  const d: BackfillDeps = {
    history: async () => pages.shift()!,
    verifier: new AppleVerifier({
      trustedRoots: [pki.rootDer],
      bundleIds: ['com.example.app'],
      environments: ['Sandbox'],
      appAppleIds: [],
      effectiveDate: 'signed-date',
    }),
    publish: async (r) => void published.push(r),
    rawTopic: 'raw',
    checkpoint: new CheckpointFile(join(mkdtempSync(join(tmpdir(), 'bf-')), 'cp.json')),
    progress: (l) => lines.push(l),
    now: () => 1_760_000_001_000,
    ...over,
  };
  return { d, published, lines };
}

const run = { bundleId: 'com.example.app', environment: 'sandbox', range: { startDate: 1, endDate: 2 } };

describe('backfillNotificationHistory', () => {
  it('publishes verified notifications with the receiver headers plus backfill, and refuses forgeries', async () => {
    const forged = { signedPayload: signJws({ notificationUUID: 'x' }, pki, { alg: 'none' }) };
    const { d, published, lines } = deps([
      { notificationHistory: [item(), forged], hasMore: true, paginationToken: 'p2' },
      { notificationHistory: [item()], hasMore: false },
    ]);
    const s = await backfillNotificationHistory(d, run);
    expect(s).toMatchObject({ complete: true, pages: 2, found: 3, published: 2, rejected: 1 });
    expect(published[0]!.headers).toMatchObject({
      format: 'app-store-v2',
      environment: 'Sandbox',
      backfill: 'app-store:notification-history',
    });
    expect(lines.some((l) => l.includes('refused a signedPayload'))).toBe(true);
    expect(existsSync(d.checkpoint.path)).toBe(false);
  });

  it('counts already-seen ones when it can, and keeps the checkpoint when stopped by maxPages', async () => {
    const { d, lines } = deps(
      [{ notificationHistory: [item(), item()], hasMore: true, paginationToken: 'p2' }],
      { seen: async () => 1 },
    );
    const s = await backfillNotificationHistory(d, { ...run, maxPages: 1 });
    expect(s).toMatchObject({ complete: false, alreadySeen: 1, paginationToken: 'p2' });
    expect(lines[0]).toBe('page 1: 2 notifications, 2 published (1 already seen by the normalizer, 1 new)');
    expect(d.checkpoint.read()).toMatchObject({ pages: 1, paginationToken: 'p2' });
  });

  it('does not checkpoint a page whose publish failed', async () => {
    const { d } = deps([{ notificationHistory: [item()], hasMore: true, paginationToken: 'p2' }], {
      publish: async () => {
        throw new Error('Kafka down');
      },
    });
    await expect(backfillNotificationHistory(d, run)).rejects.toThrow('Kafka down');
    expect(d.checkpoint.read()).toBeUndefined();
  });
});
