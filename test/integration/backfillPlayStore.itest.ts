/**
 * `storeline backfill play-store` on the real stack (Kafka, registry, PostgreSQL; fake Play API in process):
 * voided purchases missed as RTDN are recovered once, with REFUNDED (and REVOKED when the voided order is the
 * latest one); copies of refunds already seen live, a live RTDN after the backfill, and a second backfill
 * add nothing: the normalizer deduplicates voided purchases by orderId.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VOIDED_FAILURES } from '../../services/fake-play-api/app';
import { runBackfillPlayStore } from '../../services/cli/backfillPlayStore';
import { RAW_HEADERS } from '../../lib/core/rawHeaders';
import type { DeveloperNotification } from '../../lib/core/play/model';
import { PACKAGE, rtdn, sub } from '../kit/builders/play';
import { startPlayPipeline, typesByKey } from '../kit/playPipeline';
import { PLAY_TOKEN } from '../support/play';
import { drainTopic, waitFor } from '../support/kafka';
import { stackEnv } from '../support/env';
import { randomSchema } from '../support/state';
import { sampleEvent } from '../kit/builders/events';
import { PgPlayRepo, PLAY_MIGRATIONS } from '../../lib/adapters/play/repo';
import { createPool, migrate } from '../../lib/platform/db';

const T0 = Date.parse('2026-11-20T10:00:00.000Z');
const voidedRtdn = (token: string, orderId: string): DeveloperNotification => ({
  version: '1.0',
  packageName: PACKAGE,
  eventTimeMillis: String(T0),
  voidedPurchaseNotification: { purchaseToken: token, orderId, productType: 1, refundType: 1 },
});

describe('storeline backfill play-store', () => {
  it('recovers missed refunds once; live RTDNs and repeated backfills add nothing', async () => {
    const p = await startPlayPipeline();
    const dir = mkdtempSync(join(tmpdir(), 'storeline-backfill-'));
    const checkpoint = join(dir, 'play.json');
    const backfill = (...extra: string[]) =>
      runBackfillPlayStore(
        [
          '--since',
          new Date(T0 - 86_400_000).toISOString(),
          '--until',
          String(T0 + 86_400_000),
          '--play-api-url',
          p.fake.url,
          '--play-api-token',
          PLAY_TOKEN,
          '--page-size',
          '2',
          '--min-interval-ms',
          '0',
          ...extra,
        ],
        {
          KAFKA_BROKERS: stackEnv().brokers.join(','),
          TOPIC_PREFIX: p.names.prefix,
          PLAY_PACKAGE_NAMES: PACKAGE,
        },
      );
    const voided = (token: string, orderId: string, at: number) => ({
      purchaseToken: token,
      orderId,
      voidedTimeMillis: String(at),
      purchaseTimeMillis: String(T0 - 10 * 86_400_000),
      voidedSource: 0,
      voidedReason: 1,
    });
    try {
      // V: purchased live, its refund (of the latest order) never arrived as RTDN.
      p.fake.state.subscriptions.set('tok-v', sub('ACTIVE', {}, { latestSuccessfulOrderId: 'GPA.V' }));
      expect(await p.push(rtdn(4, 'tok-v'), 'm-v1')).toBe(204);
      // W: purchased and refunded live.
      p.fake.state.subscriptions.set('tok-w', sub('ACTIVE', {}, { latestSuccessfulOrderId: 'GPA.W' }));
      await p.push(rtdn(4, 'tok-w'), 'm-w1');
      await p.push(voidedRtdn('tok-w', 'GPA.W'), 'm-w2');
      // X: renewed; the refunded order is the older one, so access stays (REFUNDED only).
      p.fake.state.subscriptions.set('tok-x', sub('ACTIVE', {}, { latestSuccessfulOrderId: 'GPA.X..1' }));
      await p.push(rtdn(4, 'tok-x'), 'm-x1');
      // A one-time product (the Play API does not know the token as a subscription).
      p.fake.state.voided.push(
        voided('tok-v', 'GPA.V', T0),
        voided('tok-w', 'GPA.W', T0 + 1),
        voided('tok-x', 'GPA.X..0', T0 + 2),
        voided('ot-1', 'GPA.OT1', T0 + 3),
        voided('tok-old', 'GPA.OLD', T0 - 5 * 86_400_000), // outside the range
      );
      // A 503, then a 429 asking for 1 s: both retried, the 429 after the time it asked for.
      p.fake.state.failures.set(VOIDED_FAILURES, { status: 503, times: 1 });
      const t0 = Date.now();
      const first = backfill('--checkpoint', checkpoint);
      await waitFor('the first page read', () => !p.fake.state.failures.get(VOIDED_FAILURES)?.times);
      p.fake.state.failures.set(VOIDED_FAILURES, { status: 429, times: 1, retryAfter: 1 });
      expect(await first).toBe(0);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
      await p.settled();
      expect(JSON.parse(readFileSync(checkpoint, 'utf8')).packages[PACKAGE]).toEqual({
        done: true,
        pages: 2,
        found: 4,
        published: 4,
      });
      // The late live RTDN of X's refund, then a second backfill, then a resumed (finished) one.
      expect(await p.push(voidedRtdn('tok-x', 'GPA.X..0'), 'm-x2')).toBe(204);
      expect(await backfill()).toBe(0);
      expect(await backfill('--checkpoint', checkpoint)).toBe(0);
      // A run interrupted after its first page resumes at the saved page token: only the second page is read.
      const saved = JSON.parse(readFileSync(checkpoint, 'utf8'));
      const resumed = join(dir, 'resumed.json');
      const pageTwo = { since: saved.since, until: saved.until, next: 2 }; // the fake's token format
      writeFileSync(
        resumed,
        JSON.stringify({
          ...saved,
          packages: {
            [PACKAGE]: {
              nextPageToken: Buffer.from(JSON.stringify(pageTwo)).toString('base64'),
              done: false,
              pages: 1,
              found: 2,
              published: 2,
            },
          },
        }),
      );
      expect(await backfill('--checkpoint', resumed)).toBe(0);
      expect(JSON.parse(readFileSync(resumed, 'utf8')).packages[PACKAGE]).toEqual({
        done: true,
        pages: 2,
        found: 4,
        published: 4,
      });
      await p.settled();

      const byKey = typesByKey(await p.events());
      expect(byKey).toEqual({
        'play_store:tok-v': ['SUBSCRIPTION_STARTED', 'REFUNDED', 'REVOKED'],
        'play_store:tok-w': ['SUBSCRIPTION_STARTED', 'REFUNDED', 'REVOKED'],
        'play_store:tok-x': ['SUBSCRIPTION_STARTED', 'REFUNDED'],
        'play_store:GPA.OT1': ['REFUNDED'],
      });
      const raw = await drainTopic(p.kafka, p.names.name('rawPlayStore'));
      const backfilled = raw.filter((r) => r.message.headers?.[RAW_HEADERS.backfill]);
      expect(backfilled).toHaveLength(10); // 4 + 4 + the resumed run's 2; the finished checkpoint published nothing
      const v = backfilled.find((r) => r.message.key?.toString() === 'tok-v')!;
      expect(v.message.headers?.['message-id']?.toString()).toBe('backfill-voided:GPA.V');
      expect(v.message.headers?.[RAW_HEADERS.backfill]?.toString()).toBe('play-store:voided-purchases');
      expect(v.message.headers?.format?.toString()).toBe('play-store-pubsub');
    } finally {
      await p.stop();
    }
  });

  it('voided purchases processed before the orderId dedupe are found by order after the migration', async () => {
    const schema = randomSchema();
    const pool = createPool(stackEnv().databaseUrl, schema);
    try {
      await migrate(pool, schema, PLAY_MIGRATIONS.slice(0, 1));
      const repo = new PgPlayRepo(pool);
      const refunded = { ...sampleEvent({ type: 'REFUNDED', transactionId: 'GPA.Z..0' }) };
      // Rows as the version-1 normalizer wrote them (today's commit also writes later columns).
      const oldCommit = (id: string, at: string, events: unknown[]) =>
        pool.query('INSERT INTO play_outcomes (message_id, raw_position, events) VALUES ($1, $2, $3)', [
          id,
          at,
          JSON.stringify(events),
        ]);
      await oldCommit('m-old', 'raw/1/9', [refunded]);
      await oldCommit('m-other', 'raw/1/10', [sampleEvent()]);
      await migrate(pool, schema, PLAY_MIGRATIONS);
      expect(await repo.outcome('voided:GPA.Z..0')).toEqual({ rawPosition: 'raw/1/9', events: [refunded] });
      const rows = await pool.query('SELECT message_id FROM play_outcomes ORDER BY message_id');
      expect(rows.rows.map((r) => r.message_id)).toEqual(['m-old', 'm-other', 'voided:GPA.Z..0']);
    } finally {
      await pool.end();
    }
  });

  it('refuses a missing --since and a checkpoint of another range', async () => {
    const common = ['--package', PACKAGE, '--play-api-token', 't'];
    expect(await runBackfillPlayStore(common, {})).toBe(2);
    const file = join(mkdtempSync(join(tmpdir(), 'storeline-backfill-')), 'other.json');
    writeFileSync(file, JSON.stringify({ since: 1, until: 2, packages: {} }));
    expect(
      await runBackfillPlayStore([...common, '--since', '5', '--until', '9', '--checkpoint', file], {}),
    ).toBe(2);
  });
});
