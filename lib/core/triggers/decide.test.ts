import {
  EVENT_TYPE_SYMBOLS,
  type EventType,
  type SubscriptionEvent,
  type TriggerKind,
} from '../generated/avro';
import { decide, type CancelTarget, type TriggerHistory } from './decide';
import { CANCEL_SCOPES, DEFAULT_RULES, Rules, type CancelScope } from './rules';

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
    revision: 0,
    retracted: false,
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

  it('a correction (revision > 0) neither fires nor cancels, where its revision 0 would do both', () => {
    const original = ev('SUBSCRIPTION_STARTED');
    expect(kinds(decide(original, none, NOW, DEFAULT_RULES)).emit).toEqual(['WELCOME']);
    expect(decide(original, none, NOW, DEFAULT_RULES).cancel).not.toEqual([]);
    expect(decide({ ...original, revision: 1 }, none, NOW, DEFAULT_RULES)).toEqual({
      emit: [],
      schedule: [],
      cancel: [],
    });
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
});

describe('decide: a cancellation reaches what its rule names', () => {
  const sub = (...kinds: TriggerKind[]): CancelTarget => ({
    scope: 'subscription',
    kinds,
    subscriptionKey: 'app_store:1',
  });
  const user = (...kinds: TriggerKind[]): CancelTarget => ({
    scope: 'user',
    kinds,
    subscriptionKey: 'app_store:1',
    appUserId: 'user-1',
  });
  const scoped = (winback: CancelScope, saveOffer: CancelScope, priceReminder: CancelScope): Rules => ({
    ...DEFAULT_RULES,
    winbackOffer: { ...DEFAULT_RULES.winbackOffer, cancelScope: winback },
    cancellationSaveOffer: { ...DEFAULT_RULES.cancellationSaveOffer, cancelScope: saveOffer },
    priceIncreaseConsentReminder: {
      ...DEFAULT_RULES.priceIncreaseConsentReminder,
      cancelScope: priceReminder,
    },
  });
  const comebacks = [
    'SUBSCRIPTION_STARTED',
    'RENEWED',
    'BILLING_RECOVERED',
    'AUTO_RENEW_ENABLED',
    'RESUMED',
    'REFUND_REVERSED',
  ] as const;

  const rows: [string, SubscriptionEvent, Rules, CancelTarget[]][] = [
    // Defaults: only the win-back reaches the user's other subscriptions.
    ...comebacks.map((t): [string, SubscriptionEvent, Rules, CancelTarget[]] => [
      `${t}: save offer of this subscription, win-backs of the user`,
      ev(t),
      DEFAULT_RULES,
      [sub('CANCELLATION_SAVE_OFFER'), user('WINBACK_OFFER')],
    ]),
    [
      'EXPIRED: save offer and price reminder of this subscription only',
      ev('EXPIRED', { reason: 'VOLUNTARY' }),
      DEFAULT_RULES,
      [sub('CANCELLATION_SAVE_OFFER', 'PRICE_INCREASE_CONSENT_REMINDER')],
    ],
    [
      'REVOKED: save offer and price reminder of this subscription only',
      ev('REVOKED'),
      DEFAULT_RULES,
      [sub('CANCELLATION_SAVE_OFFER', 'PRICE_INCREASE_CONSENT_REMINDER')],
    ],
    [
      'PRICE_INCREASE_ACCEPTED: price reminder of this subscription only',
      ev('PRICE_INCREASE_ACCEPTED'),
      DEFAULT_RULES,
      [sub('PRICE_INCREASE_CONSENT_REMINDER')],
    ],
    [
      'PRICE_CHANGE_CANCELED: price reminder of this subscription only',
      ev('PRICE_CHANGE_CANCELED'),
      DEFAULT_RULES,
      [sub('PRICE_INCREASE_CONSENT_REMINDER')],
    ],
    // Scopes as configured.
    [
      'win-back scoped to the subscription',
      ev('RENEWED'),
      scoped('subscription', 'subscription', 'subscription'),
      [sub('WINBACK_OFFER', 'CANCELLATION_SAVE_OFFER')],
    ],
    [
      'save offer scoped to the user',
      ev('RENEWED'),
      scoped('user', 'user', 'subscription'),
      [user('WINBACK_OFFER', 'CANCELLATION_SAVE_OFFER')],
    ],
    [
      'price reminder scoped to the user, save offer not',
      ev('EXPIRED'),
      scoped('user', 'subscription', 'user'),
      [sub('CANCELLATION_SAVE_OFFER'), user('PRICE_INCREASE_CONSENT_REMINDER')],
    ],
    // No user to widen to.
    [
      'user scope without an appUserId stays on the subscription',
      ev('RENEWED', { appUserId: null }),
      DEFAULT_RULES,
      [sub('WINBACK_OFFER', 'CANCELLATION_SAVE_OFFER')],
    ],
    [
      'user scope with an empty appUserId stays on the subscription',
      ev('RENEWED', { appUserId: '' }),
      DEFAULT_RULES,
      [sub('WINBACK_OFFER', 'CANCELLATION_SAVE_OFFER')],
    ],
    // Events that settle nothing cancel nothing.
    ['AUTO_RENEW_DISABLED cancels nothing', ev('AUTO_RENEW_DISABLED'), DEFAULT_RULES, []],
    ['PRICE_INCREASE_PENDING cancels nothing', ev('PRICE_INCREASE_PENDING'), DEFAULT_RULES, []],
    ['UNKNOWN cancels nothing', ev('UNKNOWN'), scoped('user', 'user', 'user'), []],
    [
      'a sandbox event cancels even when it fires nothing',
      ev('RENEWED', { environment: 'SANDBOX' }),
      DEFAULT_RULES,
      [sub('CANCELLATION_SAVE_OFFER'), user('WINBACK_OFFER')],
    ],
  ];
  it.each(rows)('%s', (_n, e, rules, cancel) => {
    expect(decide(e, none, NOW, rules).cancel).toEqual(cancel);
  });

  // Every event type under every combination of scopes: a kind is cancelled user-wide exactly when its rule
  // says so, and never twice.
  const combos = CANCEL_SCOPES.flatMap((w) =>
    CANCEL_SCOPES.flatMap((s) => CANCEL_SCOPES.map((p) => [w, s, p] as const)),
  );
  it.each(combos)('winback %s, save offer %s, price reminder %s: scope follows the rule', (w, s, p) => {
    const scopeOf: Partial<Record<TriggerKind, CancelScope>> = {
      WINBACK_OFFER: w,
      CANCELLATION_SAVE_OFFER: s,
      PRICE_INCREASE_CONSENT_REMINDER: p,
    };
    let cancelled = 0;
    for (const type of EVENT_TYPE_SYMBOLS) {
      const targets = decide(ev(type), none, NOW, scoped(w, s, p)).cancel;
      const kinds = targets.flatMap((t) => t.kinds.map((k) => [k, t.scope] as const));
      expect(new Set(kinds.map(([k]) => k)).size).toBe(kinds.length);
      for (const [kind, scope] of kinds) expect([type, kind, scope]).toEqual([type, kind, scopeOf[kind]]);
      cancelled += kinds.length;
    }
    expect(cancelled).toBeGreaterThan(0);
  });
});
