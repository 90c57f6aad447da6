import fc from 'fast-check';
import { EVENT_TYPE_SYMBOLS, type EventType, type SubscriptionEvent } from '../generated/avro';
import { entitledAt, fold, foldAll, type FoldState } from './fold';

const NOW = 1_770_000_000_000;
let seq = 0;

function ev(type: EventType, over: Partial<SubscriptionEvent> = {}): SubscriptionEvent {
  seq += 1;
  return {
    eventId: `app_store:n-${String(seq).padStart(4, '0')}:0`,
    type,
    store: 'APP_STORE',
    environment: 'PRODUCTION',
    appId: 'com.example.app',
    subscriptionKey: 'app_store:1',
    appUserId: null,
    productId: 'pro.monthly',
    nextProductId: null,
    transactionId: null,
    occurredAt: 1_760_000_000_000 + seq * 1000,
    receivedAt: 1_760_000_000_000 + seq * 1000 + 5,
    status: 'ACTIVE',
    entitled: true,
    autoRenew: true,
    expiresAt: 1_762_000_000_000,
    gracePeriodExpiresAt: null,
    purchasedAt: null,
    originalPurchasedAt: null,
    periodType: 'NORMAL',
    price: null,
    reason: null,
    planChange: null,
    offer: null,
    refund: null,
    countryCode: null,
    isFamilyShare: null,
    isResubscribe: false,
    revision: 0,
    retracted: false,
    source: {
      notificationId: `n-${seq}`,
      nativeType: type,
      nativeSubtype: null,
      rawTopic: 't',
      rawPartition: 0,
      rawOffset: seq,
    },
    ...over,
  };
}

const started = () =>
  ev('SUBSCRIPTION_STARTED', { originalPurchasedAt: 1_750_000_000_000, purchasedAt: 1_750_000_000_000 });
const stateAfter = (...events: SubscriptionEvent[]) => (foldAll(events, NOW) as FoldState).state;

describe('fold: every event type', () => {
  // [type, event overrides, expected state fields]
  const rows: [EventType, Partial<SubscriptionEvent>, Record<string, unknown>][] = [
    [
      'SUBSCRIPTION_STARTED',
      { periodType: 'TRIAL' },
      { status: 'TRIAL', entitled: true, firstPurchasedAt: 1_750_000_000_000 },
    ],
    ['RENEWED', {}, { status: 'ACTIVE', entitled: true, renewalCount: 1 }],
    ['BILLING_RECOVERED', {}, { status: 'ACTIVE', renewalCount: 1 }],
    ['AUTO_RENEW_DISABLED', { autoRenew: false }, { status: 'ACTIVE', entitled: true, autoRenew: false }],
    ['AUTO_RENEW_ENABLED', { autoRenew: true }, { autoRenew: true }],
    [
      'GRACE_PERIOD_STARTED',
      { status: 'GRACE_PERIOD', gracePeriodExpiresAt: 1_763_000_000_000 },
      { status: 'GRACE_PERIOD', entitled: true, gracePeriodExpiresAt: 1_763_000_000_000 },
    ],
    [
      'GRACE_PERIOD_ENDED',
      { status: 'BILLING_RETRY', entitled: false },
      { status: 'BILLING_RETRY', entitled: false },
    ],
    [
      'BILLING_RETRY_STARTED',
      { status: 'BILLING_RETRY', entitled: false },
      { status: 'BILLING_RETRY', entitled: false },
    ],
    [
      'EXPIRED',
      { status: 'EXPIRED', entitled: false, autoRenew: false },
      { status: 'EXPIRED', entitled: false },
    ],
    [
      'REFUNDED',
      { status: 'REVOKED', entitled: false },
      { status: 'REFUNDED', entitled: false, refundCount: 1 },
    ],
    ['REFUNDED', { status: 'ACTIVE', entitled: true }, { status: 'ACTIVE', entitled: true, refundCount: 1 }],
    ['REFUND_REQUESTED', {}, { status: 'ACTIVE', refundCount: 0 }],
    ['REFUND_DECLINED', {}, { status: 'ACTIVE' }],
    ['REFUND_REVERSED', {}, { status: 'ACTIVE', entitled: true }],
    ['REVOKED', { status: 'REVOKED', entitled: false }, { status: 'REVOKED', entitled: false }],
    ['PLAN_CHANGED', { productId: 'pro.yearly' }, { productId: 'pro.yearly' }],
    [
      'PLAN_CHANGE_SCHEDULED',
      { nextProductId: 'basic.monthly' },
      { productId: 'pro.monthly', nextProductId: 'basic.monthly' },
    ],
    ['PLAN_CHANGE_CANCELED', { nextProductId: null }, { nextProductId: null }],
    ['PRICE_INCREASE_PENDING', {}, { status: 'ACTIVE' }],
    ['PRICE_INCREASE_ACCEPTED', {}, { status: 'ACTIVE' }],
    ['PRICE_CHANGE_CANCELED', {}, { status: 'ACTIVE' }],
    ['OFFER_REDEEMED', { periodType: 'PROMOTIONAL' }, { periodType: 'PROMOTIONAL' }],
    ['RENEWAL_EXTENDED', { expiresAt: 1_765_000_000_000 }, { expiresAt: 1_765_000_000_000 }],
    ['RENEWAL_EXTENSION_FAILED', {}, { expiresAt: 1_762_000_000_000 }],
    ['PAUSE_SCHEDULED', {}, { status: 'ACTIVE', entitled: true }],
    ['PAUSED', { status: 'PAUSED', entitled: false }, { status: 'PAUSED', entitled: false }],
    ['RESUMED', {}, { status: 'ACTIVE', entitled: true }],
    ['PURCHASE_PENDING', { status: 'PENDING', entitled: false }, { status: 'PENDING', entitled: false }],
    [
      'PENDING_PURCHASE_CANCELED',
      { status: 'EXPIRED', entitled: false },
      { status: 'EXPIRED', entitled: false },
    ],
    ['ONE_TIME_PURCHASE', { periodType: null, expiresAt: null }, { status: 'ACTIVE', entitled: true }],
    ['CONSENT_REVOKED', { status: 'UNKNOWN', entitled: false }, { status: 'ACTIVE', entitled: true }],
    [
      'STORE_NOTICE',
      { status: 'UNKNOWN', entitled: false, productId: null },
      { status: 'ACTIVE', productId: 'pro.monthly' },
    ],
    ['TEST', { status: 'UNKNOWN', entitled: false }, { status: 'ACTIVE' }],
    ['UNKNOWN', { status: 'UNKNOWN', entitled: false }, { status: 'ACTIVE', entitled: true }],
  ];

  it('covers every EventType', () => {
    expect(new Set(rows.map((r) => r[0]))).toEqual(new Set(EVENT_TYPE_SYMBOLS));
  });

  it.each(rows)('%s after a start', (type, over, expected) => {
    const start = started();
    const e = ev(type, over);
    const s = stateAfter(start, e);
    expect(s).toMatchObject({ ...expected, lastEventId: e.eventId, lastEventType: type });
  });

  it('converts a trial when a paid renewal follows it', () => {
    expect(
      stateAfter(ev('SUBSCRIPTION_STARTED', { periodType: 'TRIAL' }), ev('RENEWED')).trialConverted,
    ).toBe(true);
    expect(stateAfter(ev('SUBSCRIPTION_STARTED'), ev('RENEWED')).trialConverted).toBe(false);
  });

  it('keeps a late older event in the history but never rolls the view back', () => {
    const start = started();
    const expired = ev('EXPIRED', { status: 'EXPIRED', entitled: false });
    const oldRenewal = ev('RENEWED', { occurredAt: expired.occurredAt - 500 });
    const s = stateAfter(start, expired, oldRenewal);
    expect(s).toMatchObject({
      status: 'EXPIRED',
      entitled: false,
      lastEventId: expired.eventId,
      renewalCount: 1,
    });
  });

  it('applies an eventId once', () => {
    const r = ev('RENEWED');
    expect(stateAfter(started(), r, r, r).renewalCount).toBe(1);
  });

  it('entitledAt honours expiry and the grace deadline', () => {
    const s = stateAfter(started());
    expect(entitledAt(s, 1_761_000_000_000)).toBe(true);
    expect(entitledAt(s, 1_763_000_000_000)).toBe(false);
    const g = stateAfter(
      started(),
      ev('GRACE_PERIOD_STARTED', { status: 'GRACE_PERIOD', gracePeriodExpiresAt: 1_764_000_000_000 }),
    );
    expect(entitledAt(g, 1_763_500_000_000)).toBe(true);
    expect(entitledAt(g, 1_764_500_000_000)).toBe(false);
  });
});

describe('fold: order and duplication do not matter (fast-check)', () => {
  const statuses = [
    'ACTIVE',
    'GRACE_PERIOD',
    'BILLING_RETRY',
    'PAUSED',
    'EXPIRED',
    'REVOKED',
    'PENDING',
    'UNKNOWN',
  ] as const;
  const arbEvent = fc
    .record({
      type: fc.constantFrom(...EVENT_TYPE_SYMBOLS),
      status: fc.constantFrom(...statuses),
      entitled: fc.boolean(),
      autoRenew: fc.option(fc.boolean(), { nil: null }),
      productId: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: null }),
      expiresAt: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: null }),
      appUserId: fc.option(fc.constantFrom('u1', 'u2'), { nil: null }),
      periodType: fc.option(fc.constantFrom('TRIAL', 'NORMAL', 'INTRO'), { nil: null }),
      occurredAt: fc.integer({ min: 0, max: 50 }), // small range: plenty of equal store times
      purchasedAt: fc.option(fc.integer({ min: 1, max: 100 }), { nil: null }),
    })
    .map((r) => ev(r.type, { ...r, periodType: r.periodType as SubscriptionEvent['periodType'] }));
  const arbHistory = fc.uniqueArray(arbEvent, { minLength: 1, maxLength: 25, selector: (e) => e.eventId });
  const ordered = (h: SubscriptionEvent[]) =>
    [...h].sort((a, b) => a.occurredAt - b.occurredAt || a.eventId.localeCompare(b.eventId));

  it('any permutation with duplicates ends in the state of the ordered history', () => {
    fc.assert(
      fc.property(
        arbHistory.chain((h) =>
          fc.tuple(fc.constant(h), fc.shuffledSubarray([...h, ...h, ...h], { minLength: h.length * 3 })),
        ),
        ([history, shuffled]) => {
          expect(foldAll(shuffled, NOW)).toEqual(foldAll(ordered(history), NOW));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('folding in two batches equals folding at once', () => {
    fc.assert(
      fc.property(arbHistory, fc.nat(), (h, cut) => {
        const at = cut % (h.length + 1);
        const first = foldAll(h.slice(0, at), NOW);
        const rest = h.slice(at).reduce<FoldState | undefined>((s, e) => fold(s, e, NOW), first);
        expect(rest).toEqual(foldAll(h, NOW));
      }),
    );
  });
});
