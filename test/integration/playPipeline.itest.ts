/**
 * Play Store path end to end: Pub/Sub push -> receiver -> raw topic -> normalizer (Play Developer API via the
 * local fake, snapshots in PostgreSQL) -> canonical topic. Each step sets what the Play API answers, pushes
 * an RTDN, and waits until the normalizer has committed it; the canonical events per subscription must be
 * exactly the expected sequence: duplicates and late repeats add nothing, a three-link upgrade chain stays
 * one subscription, and the replaced tokens' cancel/expire notifications change nothing.
 */
import type { Kafka } from 'kafkajs';
import { HttpPlayApi, staticToken } from '../../lib/adapters/play/api';
import type { DeveloperNotification, SubscriptionPurchaseV2 } from '../../lib/core/play/model';
import { createPlayProcessor } from '../../lib/core/play/processor';
import { PgPlayRepo, PLAY_MIGRATIONS } from '../../lib/adapters/play/repo';
import { envelope, PACKAGE, rtdn, sub } from '../kit/builders/play';
import { createNormalizer } from '../../lib/adapters/normalizer/normalizer';
import { createPool, migrate } from '../../lib/platform/db';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import { stackEnv } from '../support/env';
import { post } from '../support/http';
import { createCatalogTopics, drainTopic, randomId, testKafka, testLogger, waitFor } from '../support/kafka';
import { PLAY_TOKEN, PUSH_TOKEN, startFakePlay, startPlayReceiver } from '../support/play';
import { codecs, randomSchema } from '../support/state';

async function waitProcessed(kafka: Kafka, groupId: string, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitFor('normalizer caught up', async () => {
      const high = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const done = (committed?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
      return done === high ? true : undefined;
    });
  } finally {
    await admin.disconnect();
  }
}

const base = { version: '1.0', packageName: PACKAGE, eventTimeMillis: '1767261600000' };
const renewOff = { autoRenewingPlan: { autoRenewEnabled: false } };
const month = (m: number) => `2026-${String(m).padStart(2, '0')}-01T10:00:00.000Z`;

describe('Play Store pipeline (real HTTP, Kafka, registry, PostgreSQL; fake Play API)', () => {
  it('maps every kind through the whole path, exactly once, with duplicates, repeats and a three-link chain', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const { eventCodec } = await codecs(names);
    const fake = await startFakePlay();
    const schema = randomSchema();
    const pool = createPool(stackEnv().databaseUrl, schema);
    await migrate(pool, schema, PLAY_MIGRATIONS);
    const groupId = randomId('norm');
    const normalizer = createNormalizer({
      kafka,
      logger: testLogger,
      names,
      codec: eventCodec,
      groupId,
      transactionalIdPrefix: randomId('tx'),
      play: createPlayProcessor({
        api: new HttpPlayApi({ rootUrl: fake.url, accessToken: staticToken(PLAY_TOKEN) }),
        repo: new PgPlayRepo(pool),
        logger: testLogger,
        acknowledge: true,
      }),
    });
    await normalizer.start();
    const receiver = await startPlayReceiver(kafka, names, { mode: 'token', token: PUSH_TOKEN });
    let msg = 0;
    const push = async (n: DeveloperNotification, messageId = `m-${++msg}`) => {
      expect(
        (
          await post(
            `${receiver.url}/play-store/pubsub?token=${PUSH_TOKEN}`,
            JSON.stringify(envelope(n, messageId)),
          )
        ).status,
      ).toBe(204);
      await waitProcessed(kafka, groupId, names.name('rawPlayStore'));
      return messageId;
    };
    const set = (token: string, r: SubscriptionPurchaseV2) =>
      fake.state.subscriptions.set(token, structuredClone(r));

    try {
      // Subscription A: purchase (pending acknowledgement) and its lifecycle.
      set(
        'tok-a',
        sub(
          'ACTIVE',
          { acknowledgementState: 'ACKNOWLEDGEMENT_STATE_PENDING' },
          { productId: 'basic', offerPhase: { freeTrial: {} } },
        ),
      );
      const first = await push(rtdn(4, 'tok-a'));
      await push(rtdn(4, 'tok-a'), first); // Pub/Sub duplicate: same messageId
      set(
        'tok-a',
        sub('ACTIVE', {}, { productId: 'basic', expiryTime: month(3), latestSuccessfulOrderId: 'GPA.A..0' }),
      );
      await push(rtdn(2, 'tok-a'));
      await push(rtdn(2, 'tok-a')); // a late repeat (new messageId, nothing changed)
      set(
        'tok-a',
        sub(
          'IN_GRACE_PERIOD',
          {},
          { productId: 'basic', expiryTime: month(3), latestSuccessfulOrderId: 'GPA.A..0' },
        ),
      );
      await push(rtdn(6, 'tok-a'));
      set(
        'tok-a',
        sub('ON_HOLD', {}, { productId: 'basic', expiryTime: month(3), latestSuccessfulOrderId: 'GPA.A..0' }),
      );
      await push(rtdn(5, 'tok-a'));
      set(
        'tok-a',
        sub('ACTIVE', {}, { productId: 'basic', expiryTime: month(4), latestSuccessfulOrderId: 'GPA.A..1' }),
      );
      await push(rtdn(1, 'tok-a'));
      set(
        'tok-a',
        sub(
          'CANCELED',
          {
            canceledStateContext: {
              userInitiatedCancellation: {
                cancelSurveyResult: { reason: 'CANCEL_SURVEY_REASON_COST_RELATED' },
              },
            },
          },
          { productId: 'basic', expiryTime: month(4), latestSuccessfulOrderId: 'GPA.A..1', ...renewOff },
        ),
      );
      await push(rtdn(3, 'tok-a'));
      set(
        'tok-a',
        sub('ACTIVE', {}, { productId: 'basic', expiryTime: month(4), latestSuccessfulOrderId: 'GPA.A..1' }),
      );
      await push(rtdn(7, 'tok-a'));
      set(
        'tok-a',
        sub(
          'ACTIVE',
          {},
          {
            productId: 'basic',
            expiryTime: month(4),
            latestSuccessfulOrderId: 'GPA.A..1',
            autoRenewingPlan: {
              autoRenewEnabled: true,
              priceChangeDetails: { priceChangeMode: 'PRICE_INCREASE', priceChangeState: 'OUTSTANDING' },
            },
          },
        ),
      );
      await push(rtdn(19, 'tok-a'));
      set(
        'tok-a',
        sub(
          'ACTIVE',
          {},
          {
            productId: 'basic',
            expiryTime: month(4),
            latestSuccessfulOrderId: 'GPA.A..1',
            autoRenewingPlan: {
              autoRenewEnabled: true,
              priceChangeDetails: { priceChangeMode: 'PRICE_INCREASE', priceChangeState: 'CONFIRMED' },
            },
          },
        ),
      );
      await push(rtdn(8, 'tok-a'));
      set(
        'tok-a',
        sub('ACTIVE', {}, { productId: 'basic', expiryTime: month(5), latestSuccessfulOrderId: 'GPA.A..1' }),
      );
      await push(rtdn(9, 'tok-a'));
      await push(rtdn(11, 'tok-a'));
      set(
        'tok-a',
        sub(
          'PAUSED',
          { pausedStateContext: { autoResumeTime: month(6) } },
          { productId: 'basic', expiryTime: month(5), latestSuccessfulOrderId: 'GPA.A..1' },
        ),
      );
      await push(rtdn(10, 'tok-a'));
      set(
        'tok-a',
        sub('ACTIVE', {}, { productId: 'basic', expiryTime: month(7), latestSuccessfulOrderId: 'GPA.A..2' }),
      );
      await push(rtdn(1, 'tok-a'));
      await push({
        ...base,
        pendingRefundReviewNotification: {
          version: '1.0',
          pendingRefundToken: 'prt-1',
          orderId: 'GPA.A..2',
          refundReason: 7,
        },
      });

      // Upgrade chain A -> B -> C: one subscription; the replaced tokens' cancel and expiry change nothing.
      set(
        'tok-b',
        sub(
          'ACTIVE',
          { linkedPurchaseToken: 'tok-a' },
          { productId: 'premium', expiryTime: month(8), latestSuccessfulOrderId: 'GPA.B' },
        ),
      );
      await push(rtdn(4, 'tok-b'));
      set(
        'tok-a',
        sub(
          'EXPIRED',
          { canceledStateContext: { replacementCancellation: {} } },
          { productId: 'basic', expiryTime: month(7), ...renewOff },
        ),
      );
      await push(rtdn(3, 'tok-a'));
      await push(rtdn(13, 'tok-a'));
      set(
        'tok-c',
        sub(
          'ACTIVE',
          { linkedPurchaseToken: 'tok-b' },
          { productId: 'premium-plus', expiryTime: month(8), latestSuccessfulOrderId: 'GPA.C' },
        ),
      );
      await push(rtdn(4, 'tok-c'));
      set(
        'tok-c',
        sub(
          'ACTIVE',
          {},
          {
            productId: 'premium-plus',
            expiryTime: month(8),
            latestSuccessfulOrderId: 'GPA.C',
            autoRenewingPlan: { autoRenewEnabled: true, installmentDetails: { pendingCancellation: {} } },
          },
        ),
      );
      await push(rtdn(18, 'tok-c'));
      set(
        'tok-c',
        sub(
          'ACTIVE',
          {},
          {
            productId: 'premium-plus',
            expiryTime: month(8),
            latestSuccessfulOrderId: 'GPA.C',
            autoRenewingPlan: { autoRenewEnabled: true, priceStepUpConsentDetails: { state: 'PENDING' } },
          },
        ),
      );
      await push(rtdn(22, 'tok-c'));
      set(
        'tok-c',
        sub(
          'ACTIVE',
          {},
          { productId: 'premium-plus', expiryTime: month(8), latestSuccessfulOrderId: 'GPA.C' },
        ),
      );
      fake.state.subscriptions
        .get('tok-c')!
        .lineItems!.push({ productId: 'addon-storage', expiryTime: month(8) });
      await push(rtdn(17, 'tok-c'));
      set(
        'tok-c',
        sub(
          'EXPIRED',
          { canceledStateContext: { developerInitiatedCancellation: {} } },
          { productId: 'premium-plus', expiryTime: month(8), latestSuccessfulOrderId: 'GPA.C' },
        ),
      );
      await push(rtdn(12, 'tok-c'));
      await push({
        ...base,
        voidedPurchaseNotification: {
          purchaseToken: 'tok-c',
          orderId: 'GPA.C',
          productType: 1,
          refundType: 1,
        },
      });

      // Subscription D: pending purchase, cancelled; E: expiry; an unknown type.
      set('tok-d', sub('PENDING'));
      await push(rtdn(4, 'tok-d'));
      set('tok-d', sub('PENDING_PURCHASE_CANCELED'));
      await push(rtdn(20, 'tok-d'));
      set('tok-e', sub('CANCELED', {}, renewOff));
      await push(rtdn(4, 'tok-e'));
      set('tok-e', sub('EXPIRED', { canceledStateContext: { userInitiatedCancellation: {} } }, renewOff));
      await push(rtdn(13, 'tok-e'));
      await push(rtdn(99, 'tok-e'));

      // One-time products, a quantity refund, and a test notification.
      fake.state.products.set('coins/ot-1', {
        purchaseState: 0,
        orderId: 'GPA.OT1',
        quantity: 3,
        purchaseTimeMillis: '1767261000000',
      });
      await push({
        ...base,
        oneTimeProductNotification: {
          version: '1.0',
          notificationType: 1,
          purchaseToken: 'ot-1',
          sku: 'coins',
        },
      });
      fake.state.products.set('coins/ot-2', { purchaseState: 2 });
      await push({
        ...base,
        oneTimeProductNotification: {
          version: '1.0',
          notificationType: 1,
          purchaseToken: 'ot-2',
          sku: 'coins',
        },
      });
      await push({
        ...base,
        oneTimeProductNotification: {
          version: '1.0',
          notificationType: 2,
          purchaseToken: 'ot-2',
          sku: 'coins',
        },
      });
      await push({
        ...base,
        voidedPurchaseNotification: {
          purchaseToken: 'ot-1',
          orderId: 'GPA.OT1',
          productType: 2,
          refundType: 2,
        },
      });
      await push({ ...base, testNotification: { version: '1.0' } });
    } finally {
      await receiver.close();
      await normalizer.stop();
      await fake.close();
      await pool.end();
    }

    const records = await drainTopic(kafka, names.name('subscriptionEvents'));
    const events = await Promise.all(records.map((r) => eventCodec.decode(r.message.value!)));
    const byKey = new Map<string, SubscriptionEvent[]>();
    for (const e of events) byKey.set(e.subscriptionKey, [...(byKey.get(e.subscriptionKey) ?? []), e]);
    const seq = (key: string) => (byKey.get(key) ?? []).map((e) => e.type);

    expect(seq('play_store:tok-a')).toEqual([
      'SUBSCRIPTION_STARTED',
      'RENEWED',
      'GRACE_PERIOD_STARTED',
      'BILLING_RETRY_STARTED',
      'BILLING_RECOVERED',
      'AUTO_RENEW_DISABLED',
      'AUTO_RENEW_ENABLED',
      'PRICE_INCREASE_PENDING',
      'PRICE_INCREASE_ACCEPTED',
      'RENEWAL_EXTENDED',
      'PAUSE_SCHEDULED',
      'PAUSED',
      'RESUMED',
      'REFUND_REQUESTED',
      'PLAN_CHANGED',
      'PLAN_CHANGED',
      'AUTO_RENEW_DISABLED',
      'PRICE_INCREASE_PENDING',
      'PLAN_CHANGED',
      'REVOKED',
      'REFUNDED',
      'REVOKED',
    ]);
    const a = byKey.get('play_store:tok-a')!;
    expect(a[0]).toMatchObject({
      periodType: 'TRIAL',
      appUserId: 'user-7',
      store: 'PLAY_STORE',
      environment: 'PRODUCTION',
    });
    expect(a.find((e) => e.type === 'AUTO_RENEW_DISABLED')!.reason).toBe('COST_RELATED');
    const moved = (fromProductId: string, toProductId: string) => ({
      fromProductId,
      toProductId,
      timing: 'IMMEDIATE',
      direction: 'UNKNOWN',
    });
    expect(a.filter((e) => e.type === 'PLAN_CHANGED').map((e) => ({ ...e.planChange }))).toEqual([
      // The sub() builder puts every item on base plan 'monthly'; the pushed add-on names none (''), so
      // base plans keep the products' positions.
      { ...moved('basic', 'premium'), fromBasePlanId: 'monthly', toBasePlanId: 'monthly' },
      { ...moved('premium', 'premium-plus'), fromBasePlanId: 'monthly', toBasePlanId: 'monthly' },
      {
        ...moved('premium-plus', 'addon-storage,premium-plus'),
        fromBasePlanId: 'monthly',
        toBasePlanId: ',monthly',
      },
    ]);
    expect(seq('play_store:tok-d')).toEqual(['PURCHASE_PENDING', 'PENDING_PURCHASE_CANCELED']);
    expect(seq('play_store:tok-e')).toEqual(['SUBSCRIPTION_STARTED', 'EXPIRED', 'UNKNOWN']);
    expect(seq('play_store:GPA.OT1')).toEqual(['ONE_TIME_PURCHASE', 'REFUNDED']);
    expect(byKey.get('play_store:GPA.OT1')![1]!.refund).toEqual({
      scope: 'PARTIAL_QUANTITY',
      percentage: null,
      quantity: null,
    });
    expect(seq('play_store:ot-2')).toEqual(['PURCHASE_PENDING', 'PENDING_PURCHASE_CANCELED']);
    expect(seq(`play_store:app:${PACKAGE}`)).toEqual(['TEST']);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
    // The new purchase was acknowledged; each distinct notification read the API once (the duplicate did not).
    expect(fake.state.acknowledged).toEqual(['tok-a']);
    expect(fake.state.reads.get('tok-b')).toBe(1);
    // 16 distinct subscription RTDNs for tok-a (the refund review needs no read; the duplicate is not read).
    expect(fake.state.reads.get('tok-a')).toBe(16);
  });
});
