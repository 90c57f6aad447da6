import type { EventType, SubscriptionEvent, TriggerKind } from '../shared/generated/avro';
import { decide, type TriggerHistory } from './decide';
import { DEFAULT_RULES, Rules } from './rules';

const NOW = 1_770_000_000_000;
const DAY = 86_400_000;
const none: TriggerHistory = { recent: [], userRefunds: 0 };

function ev(type: EventType, over: Partial<SubscriptionEvent> = {}): SubscriptionEvent {
  return {
    eventId: `app_store:n-${type}:0`,
    type,
    store: 'APP_STORE',
    environment: 'PRODUCTION',
    appId: 'com.example.app',
    subscriptionKey: 'app_store:1',
    appUserId: 'user-1',
    productId: 'pro.yearly',
    nextProductId: null,
    transactionId: 't1',
    occurredAt: NOW - 1000,
    receivedAt: NOW,
    status: 'ACTIVE',
    entitled: true,
    autoRenew: true,
    expiresAt: NOW + 30 * DAY,
    gracePeriodExpiresAt: null,
    purchasedAt: NOW - 300 * DAY,
    originalPurchasedAt: NOW - 300 * DAY,
    periodType: 'NORMAL',
    price: { amountMicros: 59_990_000, currency: 'USD' },
    reason: null,
    planChange: null,
    offer: null,
    refund: null,
    countryCode: null,
    isFamilyShare: null,
    isResubscribe: false,
    source: {
      notificationId: 'n',
      nativeType: type,
      nativeSubtype: null,
      rawTopic: 'r',
      rawPartition: 0,
      rawOffset: 0,
    },
    ...over,
  };
}
const kinds = (d: ReturnType<typeof decide>) => ({
  emit: d.emit.map((t) => t.kind),
  schedule: d.schedule.map((t) => t.kind),
});

describe('decide: every kind fires where it should', () => {
  const rows: [string, SubscriptionEvent, TriggerKind[], TriggerKind[], Record<string, string>][] = [
    ['WELCOME on a start', ev('SUBSCRIPTION_STARTED'), ['WELCOME'], [], {}],
    ['RENEWAL_THANKS on a renewal', ev('RENEWED'), ['RENEWAL_THANKS'], [], {}],
    [
      'PAYMENT_FAILED with the grace deadline',
      ev('GRACE_PERIOD_STARTED', { status: 'GRACE_PERIOD', gracePeriodExpiresAt: NOW + 6 * DAY }),
      ['PAYMENT_FAILED'],
      [],
      { graceDeadline: new Date(NOW + 6 * DAY).toISOString() },
    ],
    [
      'PAYMENT_FAILED + ACCESS_LOST on billing retry without grace',
      ev('BILLING_RETRY_STARTED', { entitled: false }),
      ['PAYMENT_FAILED', 'ACCESS_LOST'],
      [],
      {},
    ],
    ['ACCESS_LOST when grace ends', ev('GRACE_PERIOD_ENDED', { entitled: false }), ['ACCESS_LOST'], [], {}],
    ['ACCESS_LOST on revoke', ev('REVOKED', { entitled: false }), ['ACCESS_LOST'], [], {}],
    [
      'CANCELLATION_SAVE_OFFER on auto-renew off',
      ev('AUTO_RENEW_DISABLED'),
      ['CANCELLATION_SAVE_OFFER'],
      [],
      {},
    ],
    [
      'WINBACK_OFFER scheduled after a voluntary expiry',
      ev('EXPIRED', { reason: 'VOLUNTARY', entitled: false }),
      [],
      ['WINBACK_OFFER'],
      {},
    ],
    [
      'WINBACK_OFFER scheduled after a billing expiry',
      ev('EXPIRED', { reason: 'BILLING_ERROR', entitled: false }),
      [],
      ['WINBACK_OFFER'],
      {},
    ],
    ['PLAN_CHANGE_CONFIRMATION on a change', ev('PLAN_CHANGED'), ['PLAN_CHANGE_CONFIRMATION'], [], {}],
    [
      'PLAN_CHANGE_CONFIRMATION on a scheduled change',
      ev('PLAN_CHANGE_SCHEDULED'),
      ['PLAN_CHANGE_CONFIRMATION'],
      [],
      {},
    ],
    [
      'PRICE_INCREASE_CONSENT_REMINDER before the deadline',
      ev('PRICE_INCREASE_PENDING'),
      [],
      ['PRICE_INCREASE_CONSENT_REMINDER'],
      {},
    ],
    [
      'REFUND_REQUEST_RESPONSE_DUE in 12 h for Apple',
      ev('REFUND_REQUESTED'),
      ['REFUND_REQUEST_RESPONSE_DUE'],
      [],
      { respondBy: new Date(NOW - 1000 + 12 * 3600_000).toISOString() },
    ],
    [
      'REFUND_REQUEST_RESPONSE_DUE in 24 h for Google',
      ev('REFUND_REQUESTED', { store: 'PLAY_STORE' }),
      ['REFUND_REQUEST_RESPONSE_DUE'],
      [],
      { respondBy: new Date(NOW - 1000 + 24 * 3600_000).toISOString() },
    ],
    [
      'REFUND_ABUSE_SUSPECTED: yearly plan refunded after 2 days',
      ev('REFUNDED', { purchasedAt: NOW - 2 * DAY, expiresAt: NOW + 363 * DAY }),
      ['REFUND_ABUSE_SUSPECTED'],
      [],
      { signal: 'QUICK_REFUND_OF_LONG_PERIOD' },
    ],
  ];
  it.each(rows)('%s', (_n, e, emit, schedule, context) => {
    const d = decide(e, none, NOW, DEFAULT_RULES);
    expect(kinds(d)).toEqual({ emit, schedule });
    const t = [...d.emit, ...d.schedule][0]!;
    expect(t).toMatchObject({
      triggerId: `${t.kind}:app_store:1:${e.eventId}`,
      cause: { eventId: e.eventId, eventType: e.type },
      appUserId: 'user-1',
    });
    expect(t.context).toMatchObject(context);
  });

  it('REFUND_ABUSE_SUSPECTED for a serial refunder', () => {
    const d = decide(
      ev('REFUNDED', { purchasedAt: NOW - 20 * DAY, expiresAt: NOW + 10 * DAY }),
      { recent: [], userRefunds: 3 },
      NOW,
      DEFAULT_RULES,
    );
    expect(d.emit[0]).toMatchObject({
      kind: 'REFUND_ABUSE_SUSPECTED',
      context: { signal: 'SERIAL_REFUNDER', userRefundsInWindow: '3' },
    });
  });

  it('schedules with the configured delays', () => {
    const d = decide(ev('EXPIRED', { reason: 'VOLUNTARY' }), none, NOW, DEFAULT_RULES);
    expect(d.schedule[0]!.dueAt).toBe(NOW + 7 * DAY);
    const p = decide(ev('PRICE_INCREASE_PENDING'), none, NOW, DEFAULT_RULES);
    expect(p.schedule[0]!.dueAt).toBe(NOW + 30 * DAY - 3 * DAY);
  });
});

describe('decide: and stays silent where it should not', () => {
  const rows: [string, SubscriptionEvent, TriggerHistory, Partial<Rules>][] = [
    ['sandbox events by default', ev('SUBSCRIPTION_STARTED', { environment: 'SANDBOX' }), none, {}],
    ['a disabled kind', ev('RENEWED'), none, { renewalThanks: { enabled: false } }],
    [
      'win-back for an expiry reason not configured',
      ev('EXPIRED', { reason: 'PRODUCT_UNAVAILABLE' }),
      none,
      {},
    ],
    [
      'refund of a monthly plan after 2 days (short period)',
      ev('REFUNDED', { purchasedAt: NOW - 2 * DAY, expiresAt: NOW + 28 * DAY }),
      none,
      {},
    ],
    [
      'refund of a yearly plan after 60 days (late)',
      ev('REFUNDED', { purchasedAt: NOW - 60 * DAY, expiresAt: NOW + 305 * DAY }),
      none,
      {},
    ],
    [
      'price reminder when the deadline has passed',
      ev('PRICE_INCREASE_PENDING', { expiresAt: NOW - DAY }),
      none,
      {},
    ],
    [
      'a capped kind',
      ev('RENEWED'),
      { recent: [{ kind: 'RENEWAL_THANKS', at: NOW - 1000 }], userRefunds: 0 },
      { frequencyCaps: { RENEWAL_THANKS: { max: 1, windowSeconds: 3600 } } },
    ],
    ['informational events', ev('PRICE_INCREASE_ACCEPTED'), none, {}],
    ['TEST', ev('TEST'), none, {}],
  ];
  it.each(rows)('%s', (_n, e, history, rules) => {
    const d = decide(e, history, NOW, { ...DEFAULT_RULES, ...rules } as Rules);
    expect(kinds(d)).toEqual({ emit: [], schedule: [] });
  });

  it('sandbox fires when configured', () => {
    expect(
      kinds(
        decide(ev('SUBSCRIPTION_STARTED', { environment: 'SANDBOX' }), none, NOW, {
          ...DEFAULT_RULES,
          fireInSandbox: true,
        }),
      ).emit,
    ).toEqual(['WELCOME']);
  });

  it('a comeback cancels pending offers for the subscription and the user', () => {
    for (const type of [
      'SUBSCRIPTION_STARTED',
      'RENEWED',
      'BILLING_RECOVERED',
      'AUTO_RENEW_ENABLED',
    ] as const) {
      expect(decide(ev(type), none, NOW, DEFAULT_RULES).cancel).toEqual([
        {
          kinds: ['WINBACK_OFFER', 'CANCELLATION_SAVE_OFFER'],
          subscriptionKey: 'app_store:1',
          appUserId: 'user-1',
        },
      ]);
    }
    expect(decide(ev('PRICE_INCREASE_ACCEPTED'), none, NOW, DEFAULT_RULES).cancel[0]!.kinds).toEqual([
      'PRICE_INCREASE_CONSENT_REMINDER',
    ]);
    // Cancellations apply to sandbox events even when they fire nothing.
    expect(decide(ev('RENEWED', { environment: 'SANDBOX' }), none, NOW, DEFAULT_RULES).cancel).toHaveLength(
      1,
    );
  });
});
