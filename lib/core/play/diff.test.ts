import { diffPlay, moneyMicros, type DiffInput } from './diff';
import type { PlaySnapshot, SubscriptionPurchaseV2 } from './model';
import { PACKAGE, rtdn, sub } from '../../../test/kit/builders/play';

const CTX = { receivedAt: 1_767_261_600_500, rawTopic: 'raw', rawPartition: 1, rawOffset: 9 };
const snap = (resource: SubscriptionPurchaseV2, over: Partial<PlaySnapshot> = {}): PlaySnapshot => ({
  token: 'tok-1',
  rootToken: 'tok-1',
  replacedBy: null,
  resource,
  ...over,
});
const run = (
  type: number,
  cur: SubscriptionPurchaseV2,
  prev?: SubscriptionPurchaseV2,
  extra: Partial<DiffInput> = {},
) =>
  diffPlay({
    notification: rtdn(type),
    messageId: 'm-1',
    ctx: CTX,
    subscription: cur,
    previous: prev ? snap(prev) : undefined,
    ...extra,
  });
const types = (o: ReturnType<typeof diffPlay>) => o.events.map((e) => e.type);

const later = {
  expiryTime: '2026-03-01T10:00:00.000Z',
  latestSuccessfulOrderId: 'GPA.1111-2222-3333-44444..0',
};
const renewOff = { autoRenewingPlan: { autoRenewEnabled: false } };

describe('Play diff: every subscription type fires on a change and stays silent on a repeat', () => {
  // [type, previous, fetched, expected on change]
  const rows: [number, SubscriptionPurchaseV2 | undefined, SubscriptionPurchaseV2, string[]][] = [
    [1, sub('ON_HOLD'), sub('ACTIVE', {}, later), ['BILLING_RECOVERED']],
    [1, sub('PAUSED'), sub('ACTIVE', {}, later), ['RESUMED']],
    [2, sub('ACTIVE'), sub('ACTIVE', {}, later), ['RENEWED']],
    [2, sub('IN_GRACE_PERIOD'), sub('ACTIVE', {}, later), ['BILLING_RECOVERED']],
    [
      3,
      sub('ACTIVE'),
      sub(
        'CANCELED',
        {
          canceledStateContext: {
            userInitiatedCancellation: {
              cancelSurveyResult: { reason: 'CANCEL_SURVEY_REASON_COST_RELATED' },
            },
          },
        },
        renewOff,
      ),
      ['AUTO_RENEW_DISABLED'],
    ],
    [
      3,
      sub('ON_HOLD'),
      sub('EXPIRED', { canceledStateContext: { systemInitiatedCancellation: {} } }, renewOff),
      ['EXPIRED'],
    ],
    [4, undefined, sub('ACTIVE'), ['SUBSCRIPTION_STARTED']],
    [4, undefined, sub('PENDING'), ['PURCHASE_PENDING']],
    [5, sub('IN_GRACE_PERIOD'), sub('ON_HOLD'), ['BILLING_RETRY_STARTED']],
    [6, sub('ACTIVE'), sub('IN_GRACE_PERIOD'), ['GRACE_PERIOD_STARTED']],
    [7, sub('CANCELED', {}, renewOff), sub('ACTIVE'), ['AUTO_RENEW_ENABLED']],
    [
      8,
      sub('ACTIVE'),
      sub(
        'ACTIVE',
        {},
        {
          autoRenewingPlan: {
            autoRenewEnabled: true,
            priceChangeDetails: { priceChangeMode: 'PRICE_INCREASE', priceChangeState: 'CONFIRMED' },
          },
        },
      ),
      ['PRICE_INCREASE_ACCEPTED'],
    ],
    [
      19,
      sub('ACTIVE'),
      sub(
        'ACTIVE',
        {},
        {
          autoRenewingPlan: {
            autoRenewEnabled: true,
            priceChangeDetails: { priceChangeMode: 'PRICE_INCREASE', priceChangeState: 'OUTSTANDING' },
          },
        },
      ),
      ['PRICE_INCREASE_PENDING'],
    ],
    [
      19,
      sub('ACTIVE'),
      sub(
        'ACTIVE',
        {},
        {
          autoRenewingPlan: {
            autoRenewEnabled: true,
            priceChangeDetails: { priceChangeMode: 'PRICE_INCREASE', priceChangeState: 'CANCELED' },
          },
        },
      ),
      ['PRICE_CHANGE_CANCELED'],
    ],
    [
      22,
      sub('ACTIVE'),
      sub(
        'ACTIVE',
        {},
        {
          autoRenewingPlan: {
            autoRenewEnabled: true,
            priceStepUpConsentDetails: { state: 'PENDING', consentDeadlineTime: '2026-02-01T00:00:00Z' },
          },
        },
      ),
      ['PRICE_INCREASE_PENDING'],
    ],
    [
      22,
      sub('ACTIVE'),
      sub(
        'ACTIVE',
        {},
        { autoRenewingPlan: { autoRenewEnabled: true, priceStepUpConsentDetails: { state: 'CONFIRMED' } } },
      ),
      ['PRICE_INCREASE_ACCEPTED'],
    ],
    [9, sub('ACTIVE'), sub('ACTIVE', {}, { expiryTime: '2026-02-15T10:00:00.000Z' }), ['RENEWAL_EXTENDED']],
    [
      10,
      sub('ACTIVE'),
      sub('PAUSED', { pausedStateContext: { autoResumeTime: '2026-03-01T00:00:00Z' } }),
      ['PAUSED'],
    ],
    [11, sub('ACTIVE'), sub('ACTIVE'), ['PAUSE_SCHEDULED']],
    [
      12,
      sub('ACTIVE'),
      sub('EXPIRED', { canceledStateContext: { developerInitiatedCancellation: {} } }),
      ['REVOKED'],
    ],
    [
      13,
      sub('CANCELED', {}, renewOff),
      sub('EXPIRED', { canceledStateContext: { userInitiatedCancellation: {} } }, renewOff),
      ['EXPIRED'],
    ],
    [17, sub('ACTIVE'), sub('ACTIVE', {}, { productId: 'premium-plus' }), ['PLAN_CHANGED']],
    [
      18,
      sub('ACTIVE'),
      sub(
        'ACTIVE',
        {},
        { autoRenewingPlan: { autoRenewEnabled: true, installmentDetails: { pendingCancellation: {} } } },
      ),
      ['AUTO_RENEW_DISABLED'],
    ],
    [20, sub('PENDING'), sub('PENDING_PURCHASE_CANCELED'), ['PENDING_PURCHASE_CANCELED']],
  ];

  it.each(rows)('type %i', (type, prev, cur, expected) => {
    const first = run(type, cur, prev);
    expect(types(first)).toEqual(expected);
    expect(first.events[0]).toMatchObject({
      store: 'PLAY_STORE',
      appId: PACKAGE,
      subscriptionKey: 'play_store:tok-1',
      eventId: 'play_store:m-1:0',
      occurredAt: 1_767_261_600_000,
    });
    // The same notification again, now that the snapshot holds the fetched resource: nothing new.
    const again = diffPlay({
      notification: rtdn(type),
      messageId: 'm-2',
      ctx: CTX,
      subscription: cur,
      previous: first.snapshot,
    });
    expect(type === 11 ? [] : types(again)).toEqual([]);
  });

  it('an unknown type is UNKNOWN with the native code kept', () => {
    const o = run(99, sub('ACTIVE'), sub('ACTIVE'));
    expect(types(o)).toEqual(['UNKNOWN']);
    expect(o.events[0]!.source.nativeType).toBe('SUBSCRIPTION_99');
  });

  it('fills the envelope from the resource', () => {
    const [e] = run(4, sub('ACTIVE', { testPurchase: {} }, { offerPhase: { freeTrial: {} } })).events;
    expect(e).toMatchObject({
      environment: 'SANDBOX',
      appUserId: 'user-7',
      productId: 'premium',
      transactionId: 'GPA.1111-2222-3333-44444',
      status: 'ACTIVE',
      entitled: true,
      autoRenew: true,
      expiresAt: Date.parse('2026-02-01T10:00:00.000Z'),
      periodType: 'TRIAL',
      price: { amountMicros: 4_990_000, currency: 'EUR' },
      countryCode: 'DE',
    });
    expect(moneyMicros({ currencyCode: 'JPY', units: '1200' })).toEqual({
      amountMicros: 1_200_000_000,
      currency: 'JPY',
    });
  });
});

describe('Play diff: linked purchase tokens', () => {
  it('keeps the root of a three-link chain and never lets a replaced token cancel or expire it', () => {
    const a = diffPlay({
      notification: rtdn(4, 'tok-a'),
      messageId: 'm-a',
      ctx: CTX,
      subscription: sub('ACTIVE', {}, { productId: 'basic' }),
    });
    expect(a.snapshot).toMatchObject({ rootToken: 'tok-a' });
    const b = diffPlay({
      notification: rtdn(4, 'tok-b'),
      messageId: 'm-b',
      ctx: CTX,
      linked: a.snapshot,
      subscription: sub('ACTIVE', { linkedPurchaseToken: 'tok-a' }, { productId: 'premium' }),
    });
    expect(types(b)).toEqual(['PLAN_CHANGED']);
    expect(b.events[0]).toMatchObject({
      subscriptionKey: 'play_store:tok-a',
      planChange: { fromProductId: 'basic', toProductId: 'premium' },
    });
    expect(b.replaces).toBe('tok-a');
    const c = diffPlay({
      notification: rtdn(4, 'tok-c'),
      messageId: 'm-c',
      ctx: CTX,
      linked: b.snapshot,
      subscription: sub('ACTIVE', { linkedPurchaseToken: 'tok-b' }, { productId: 'premium-plus' }),
    });
    expect(c.events[0]).toMatchObject({ type: 'PLAN_CHANGED', subscriptionKey: 'play_store:tok-a' });
    expect(c.snapshot?.rootToken).toBe('tok-a');
    // The old token's CANCELED (replacement) and EXPIRED produce nothing.
    const replacedA = { ...a.snapshot!, replacedBy: 'tok-b' };
    const cancelOld = diffPlay({
      notification: rtdn(3, 'tok-a'),
      messageId: 'm-x',
      ctx: CTX,
      previous: replacedA,
      subscription: sub('EXPIRED', { canceledStateContext: { replacementCancellation: {} } }, renewOff),
    });
    expect(cancelOld.events).toEqual([]);
    const expireOld = diffPlay({
      notification: rtdn(13, 'tok-a'),
      messageId: 'm-y',
      ctx: CTX,
      previous: replacedA,
      subscription: sub('EXPIRED'),
    });
    expect(expireOld.events).toEqual([]);
    // A re-signup to the same product on a new linked token is a resubscribe.
    const same = diffPlay({
      notification: rtdn(4, 'tok-d'),
      messageId: 'm-d',
      ctx: CTX,
      linked: c.snapshot,
      subscription: sub('ACTIVE', { linkedPurchaseToken: 'tok-c' }, { productId: 'premium-plus' }),
    });
    expect(same.events[0]).toMatchObject({
      type: 'SUBSCRIPTION_STARTED',
      isResubscribe: true,
      subscriptionKey: 'play_store:tok-a',
    });
  });
});

describe('Play diff: other notifications', () => {
  const base = { version: '1.0', packageName: PACKAGE, eventTimeMillis: '1767261600000' };
  it('one-time purchase, pending, and pending canceled', () => {
    const n = {
      ...base,
      oneTimeProductNotification: {
        version: '1.0',
        notificationType: 1,
        purchaseToken: 'ot-1',
        sku: 'coins_100',
      },
    };
    expect(
      types(
        diffPlay({
          notification: n,
          messageId: 'm',
          ctx: CTX,
          product: { purchaseState: 0, orderId: 'GPA.9' },
        }),
      ),
    ).toEqual(['ONE_TIME_PURCHASE']);
    expect(
      types(diffPlay({ notification: n, messageId: 'm', ctx: CTX, product: { purchaseState: 2 } })),
    ).toEqual(['PURCHASE_PENDING']);
    const c = {
      ...base,
      oneTimeProductNotification: {
        version: '1.0',
        notificationType: 2,
        purchaseToken: 'ot-1',
        sku: 'coins_100',
      },
    };
    expect(types(diffPlay({ notification: c, messageId: 'm', ctx: CTX }))).toEqual([
      'PENDING_PURCHASE_CANCELED',
    ]);
  });

  it('voided purchases: full refund of the latest order revokes; quantity refunds are partial', () => {
    const full = {
      ...base,
      voidedPurchaseNotification: {
        purchaseToken: 'tok-1',
        orderId: 'GPA.1111-2222-3333-44444',
        productType: 1,
        refundType: 1,
      },
    };
    const o = diffPlay({
      notification: full,
      messageId: 'v',
      ctx: CTX,
      previous: snap(sub('ACTIVE')),
      subscription: sub('EXPIRED'),
    });
    expect(types(o)).toEqual(['REFUNDED', 'REVOKED']);
    expect(o.events[0]).toMatchObject({
      refund: { scope: 'FULL' },
      subscriptionKey: 'play_store:tok-1',
      entitled: false,
    });
    const older = {
      ...full,
      voidedPurchaseNotification: {
        ...full.voidedPurchaseNotification,
        orderId: 'GPA.1111-2222-3333-44444', // the first order, voided after a renewal: current period stays paid
      },
    };
    expect(
      types(
        diffPlay({
          notification: older,
          messageId: 'v2',
          ctx: CTX,
          previous: snap(sub('ACTIVE')),
          subscription: sub('ACTIVE', {}, later),
        }),
      ),
    ).toEqual(['REFUNDED']);
    const partial = {
      ...base,
      voidedPurchaseNotification: { purchaseToken: 'ot-1', orderId: 'GPA.5', productType: 2, refundType: 2 },
    };
    expect(diffPlay({ notification: partial, messageId: 'v3', ctx: CTX }).events[0]).toMatchObject({
      type: 'REFUNDED',
      refund: { scope: 'PARTIAL_QUANTITY' },
      entitled: true,
    });
  });

  it('pending refund review -> REFUND_REQUESTED; test -> TEST', () => {
    const r = {
      ...base,
      pendingRefundReviewNotification: {
        version: '1.0',
        pendingRefundToken: 'prt',
        orderId: 'GPA.1111-2222-3333-44444',
        refundReason: 7,
      },
    };
    expect(
      diffPlay({ notification: r, messageId: 'r', ctx: CTX, orderRootToken: 'tok-1' }).events[0],
    ).toMatchObject({
      type: 'REFUND_REQUESTED',
      subscriptionKey: 'play_store:tok-1',
      reason: 'REFUND_REASON_7',
    });
    expect(
      diffPlay({ notification: { ...base, testNotification: { version: '1.0' } }, messageId: 't', ctx: CTX })
        .events[0],
    ).toMatchObject({ type: 'TEST', subscriptionKey: `play_store:app:${PACKAGE}` });
  });

  it('a gone token (404/410) yields nothing', () => {
    expect(diffPlay({ notification: rtdn(13), messageId: 'g', ctx: CTX, subscription: null }).events).toEqual(
      [],
    );
  });
});
