/**
 * `storeline reconcile play-store` on the real stack (Kafka, registry, PostgreSQL; fake Play API in process):
 * a subscription whose RTDN was lost (expiry, renewal, account hold) is brought to Google's state with events
 * marked RECONCILIATION; a matching one publishes nothing; a second run finds nothing; `--all-active
 * --older-than` selects from the state tables (seeded by the aggregator's own applyEvents from the canonical
 * events); a replaced token is followed to the newest one of its chain.
 */
import { runReconcilePlayStore } from '../../services/cli/reconcilePlayStore';
import { RAW_HEADERS } from '../../lib/core/rawHeaders';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import { rtdn, sub, PACKAGE } from '../kit/builders/play';
import { startReconcilePipeline } from '../kit/playReconcile';
import { typesByKey } from '../kit/playPipeline';
import { PLAY_TOKEN } from '../support/play';
import { drainTopic } from '../support/kafka';
import { stackEnv } from '../support/env';

const renewOff = { autoRenewingPlan: { autoRenewEnabled: false } };
const userCancel = { canceledStateContext: { userInitiatedCancellation: {} } };
const renewedItem = { expiryTime: '2026-03-01T10:00:00.000Z', latestSuccessfulOrderId: 'GPA.C..1' };

describe('storeline reconcile play-store', () => {
  it('emits what lost notifications would have, once; matches publish nothing', async () => {
    const p = await startReconcilePipeline();
    const lines: string[] = [];
    const reconcile = async (...args: string[]) => {
      const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        return true;
      });
      try {
        return await runReconcilePlayStore(
          [...args, '--play-api-url', p.fake.url, '--play-api-token', PLAY_TOKEN],
          {
            KAFKA_BROKERS: stackEnv().brokers.join(','),
            TOPIC_PREFIX: p.names.prefix,
            SCHEMA_REGISTRY_URL: stackEnv().registryUrl,
            DATABASE_URL: stackEnv().databaseUrl,
            NORMALIZER_DB_SCHEMA: p.playSchema,
            STATE_DB_SCHEMA: p.stateSchema,
            PLAY_PACKAGE_NAMES: PACKAGE,
          },
        );
      } finally {
        write.mockRestore();
      }
    };
    const rawCount = async () => (await drainTopic(p.kafka, p.names.name('rawPlayStore'))).length;
    try {
      // Purchased live (RTDNs in January 2026, long before now).
      for (const t of ['a', 'b', 'c', 'f', 'd1']) {
        p.fake.state.subscriptions.set(
          `tok-${t}`,
          sub('ACTIVE', {}, { latestSuccessfulOrderId: `GPA.${t}` }),
        );
        expect(await p.push(rtdn(4, `tok-${t}`), `m-${t}`)).toBe(204);
      }
      // D: upgraded to a new token (live); E: purchased just now (live, recent).
      p.fake.state.subscriptions.set(
        'tok-d2',
        sub('ACTIVE', { linkedPurchaseToken: 'tok-d1' }, { productId: 'premium_plus' }),
      );
      await p.push(rtdn(4, 'tok-d2'), 'm-d2');
      p.fake.state.subscriptions.set('tok-e', sub('ACTIVE'));
      await p.push(rtdn(4, 'tok-e', String(Date.now())), 'm-e');

      // Then, without any RTDN: A expired (user cancelled), C renewed, F went on hold, D2 expired.
      p.fake.state.subscriptions.set(
        'tok-a',
        sub('EXPIRED', userCancel, { ...renewOff, latestSuccessfulOrderId: 'GPA.a' }),
      );
      p.fake.state.subscriptions.set('tok-c', sub('ACTIVE', {}, renewedItem));
      p.fake.state.subscriptions.set('tok-f', sub('ON_HOLD', {}, { latestSuccessfulOrderId: 'GPA.f' }));
      p.fake.state.subscriptions.set(
        'tok-d2',
        sub(
          'EXPIRED',
          { linkedPurchaseToken: 'tok-d1', ...userCancel },
          { productId: 'premium_plus', ...renewOff },
        ),
      );
      // The state aggregator's view before reconciling.
      await p.applyToState(await p.events());
      const before = await rawCount();

      // A by key: the missing EXPIRED. B: matches. D by its root: asked about the newest token, tok-d2.
      expect(
        await reconcile('--subscription', 'play_store:tok-a', '--subscription', 'play_store:tok-b'),
      ).toBe(0);
      expect(await reconcile('--subscription', 'play_store:tok-d1')).toBe(0);
      // C by token, waiting for the normalizer's events.
      expect(await reconcile('--token', 'tok-c', '--wait', '--wait-timeout-ms', '60000')).toBe(0);
      expect(lines[0]).toMatch(
        /^play_store:tok-a tok-a status ACTIVE -> EXPIRED, autoRenew true -> false \(EXPIRED\): published reconcile:tok-a:\d+$/,
      );
      expect(lines[1]).toBe('play_store:tok-b tok-b matches');
      expect(lines[2]).toMatch(
        /^play_store:tok-d1 tok-d2 status ACTIVE -> EXPIRED.*\(EXPIRED\): published reconcile:tok-d2:/,
      );
      expect(lines[3]).toMatch(
        /^play_store:tok-c tok-c expiry .* \(RENEWED\): published reconcile:tok-c:\d+$/,
      );
      const waited = JSON.parse(lines[4] as string) as SubscriptionEvent;
      expect(waited).toMatchObject({ type: 'RENEWED', subscriptionKey: 'play_store:tok-c' });
      expect(lines).toHaveLength(5);
      await p.settled();
      expect(await rawCount()).toBe(before + 3);

      // Twice: nothing more (the snapshots now hold Google's state).
      lines.length = 0;
      expect(
        await reconcile(
          '--subscription',
          'play_store:tok-a',
          '--token',
          'tok-c',
          '--subscription',
          'play_store:tok-d1',
        ),
      ).toBe(0);
      expect(lines).toEqual([
        'play_store:tok-a tok-a matches',
        'play_store:tok-d1 tok-d2 matches', // keys first, then tokens
        'play_store:tok-c tok-c matches',
      ]);
      expect(await rawCount()).toBe(before + 3);

      // --all-active --older-than 7d: live in Storeline's state and quiet for a week: B and F (A, C, D have
      // events from the reconciliation now; E is recent).
      await p.applyToState((await p.events()).filter((e) => e.source.nativeType === 'RECONCILIATION'));
      lines.length = 0;
      expect(await reconcile('--all-active', '--older-than', '7d')).toBe(0);
      expect(lines).toEqual([
        'play_store:tok-b tok-b matches',
        expect.stringMatching(
          /^play_store:tok-f tok-f status ACTIVE -> ON_HOLD \(BILLING_RETRY_STARTED\): published reconcile:tok-f:/,
        ),
      ]);
      await p.settled();

      const events = await p.events();
      expect(typesByKey(events)).toEqual({
        'play_store:tok-a': ['SUBSCRIPTION_STARTED', 'EXPIRED'],
        'play_store:tok-b': ['SUBSCRIPTION_STARTED'],
        'play_store:tok-c': ['SUBSCRIPTION_STARTED', 'RENEWED'],
        'play_store:tok-d1': ['SUBSCRIPTION_STARTED', 'PLAN_CHANGED', 'EXPIRED'],
        'play_store:tok-e': ['SUBSCRIPTION_STARTED'],
        'play_store:tok-f': ['SUBSCRIPTION_STARTED', 'BILLING_RETRY_STARTED'],
      });
      const reconciled = events
        .filter((e) => e.source.nativeType === 'RECONCILIATION')
        .sort((x, y) => x.subscriptionKey.localeCompare(y.subscriptionKey));
      expect(reconciled.map((e) => [e.subscriptionKey, e.type, e.status])).toEqual([
        ['play_store:tok-a', 'EXPIRED', 'EXPIRED'],
        ['play_store:tok-c', 'RENEWED', 'ACTIVE'],
        ['play_store:tok-d1', 'EXPIRED', 'EXPIRED'],
        ['play_store:tok-f', 'BILLING_RETRY_STARTED', 'BILLING_RETRY'],
      ]);
      for (const e of reconciled) expect(e.source.notificationId).toMatch(/^reconcile:tok-[a-f0-9]+:\d+$/);
      expect(waited.eventId).toBe(reconciled[1]?.eventId);

      const raw = await drainTopic(p.kafka, p.names.name('rawPlayStore'));
      const written = raw.filter((r) => r.message.headers?.[RAW_HEADERS.reconcile]);
      expect(written.map((r) => r.message.key?.toString()).sort()).toEqual([
        'tok-a',
        'tok-c',
        'tok-d2',
        'tok-f',
      ]);
      expect(written[0]?.message.headers?.[RAW_HEADERS.reconcile]?.toString()).toBe(
        'play-store:subscriptionsv2',
      );
      expect(written[0]?.message.headers?.format?.toString()).toBe('play-store-pubsub');

      // A Play API failure: that subscription's line says so, the others go on, exit 1.
      p.fake.state.failures.set('tok-b', { status: 403, times: 1 });
      lines.length = 0;
      expect(await reconcile('--token', 'tok-b', '--token', 'tok-e')).toBe(1);
      expect(lines).toEqual([
        expect.stringMatching(/^play_store:tok-b failed: .*403/),
        'play_store:tok-e tok-e matches',
      ]);
    } finally {
      await p.stop();
    }
  });

  it('usage errors exit 2', async () => {
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const env = { DATABASE_URL: stackEnv().databaseUrl, PLAY_PACKAGE_NAMES: PACKAGE, PLAY_API_TOKEN: 't' };
      expect(await runReconcilePlayStore([], env)).toBe(2);
      expect(await runReconcilePlayStore(['--token', 'x', '--older-than', '1d'], env)).toBe(2);
      expect(await runReconcilePlayStore(['--subscription', 'app_store:1'], env)).toBe(2);
      expect(await runReconcilePlayStore(['--all-active', '--older-than', 'soon'], env)).toBe(2);
      expect(await runReconcilePlayStore(['--token', 'x'], { ...env, PLAY_API_TOKEN: undefined })).toBe(2);
    } finally {
      err.mockRestore();
    }
  });
});
