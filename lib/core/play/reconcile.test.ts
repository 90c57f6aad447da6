import { diffPlay } from './diff';
import { parsePush } from './envelope';
import { RECONCILIATION_TYPE, type SubscriptionPurchaseV2 } from './model';
import { differences, reconcileDrafts, reconcileRecord } from './reconcile';
import { PACKAGE, rtdn, sub } from '../../../test/kit/builders/play';

const snap = (resource: SubscriptionPurchaseV2, replacedBy: string | null = null) => ({
  token: 'tok-1',
  rootToken: 'tok-1',
  replacedBy,
  resource,
});
const types = (prev: SubscriptionPurchaseV2 | undefined, cur: SubscriptionPurchaseV2) =>
  reconcileDrafts(prev ? snap(prev) : undefined, cur).map((d) => d.type);

const later = {
  expiryTime: '2026-03-01T10:00:00.000Z',
  latestSuccessfulOrderId: 'GPA.1111-2222-3333-44444..0',
};
const extended = { expiryTime: '2026-02-15T10:00:00.000Z' };
const renewOff = { autoRenewingPlan: { autoRenewEnabled: false } };
const priced = (priceChangeState: string) => ({
  autoRenewingPlan: {
    autoRenewEnabled: true,
    priceChangeDetails: { priceChangeMode: 'PRICE_INCREASE', priceChangeState },
  },
});
const user = { canceledStateContext: { userInitiatedCancellation: {} } };

describe('Play reconciliation rule: the difference between snapshot and resource, no type hint', () => {
  // [what, stored, fetched, expected]
  const rows: [string, SubscriptionPurchaseV2 | undefined, SubscriptionPurchaseV2, string[]][] = [
    ['identical', sub('ACTIVE'), sub('ACTIVE'), []],
    ['identical, expired', sub('EXPIRED', user, renewOff), sub('EXPIRED', user, renewOff), []],
    ['renewed (new order, later expiry)', sub('ACTIVE'), sub('ACTIVE', {}, later), ['RENEWED']],
    ['recovered from grace', sub('IN_GRACE_PERIOD'), sub('ACTIVE', {}, later), ['BILLING_RECOVERED']],
    ['recovered from hold', sub('ON_HOLD'), sub('ACTIVE', {}, later), ['BILLING_RECOVERED']],
    ['resumed', sub('PAUSED'), sub('ACTIVE', {}, later), ['RENEWED', 'RESUMED']],
    ['deferred (later expiry, same order)', sub('ACTIVE'), sub('ACTIVE', {}, extended), ['RENEWAL_EXTENDED']],
    ['auto-renew off', sub('ACTIVE'), sub('CANCELED', user, renewOff), ['AUTO_RENEW_DISABLED']],
    ['auto-renew back on', sub('CANCELED', user, renewOff), sub('ACTIVE'), ['AUTO_RENEW_ENABLED']],
    ['expired after cancel', sub('CANCELED', user, renewOff), sub('EXPIRED', user, renewOff), ['EXPIRED']],
    ['expired while auto-renewing', sub('ACTIVE'), sub('EXPIRED', user, renewOff), ['EXPIRED']],
    [
      'renewed, then cancelled and expired',
      sub('ACTIVE'),
      sub('EXPIRED', user, { ...later, ...renewOff }),
      ['RENEWED', 'EXPIRED'],
    ],
    [
      'entered grace (expiry moves, no order)',
      sub('ACTIVE'),
      sub('IN_GRACE_PERIOD', {}, extended),
      ['GRACE_PERIOD_STARTED'],
    ],
    ['entered hold', sub('IN_GRACE_PERIOD'), sub('ON_HOLD'), ['BILLING_RETRY_STARTED']],
    ['paused', sub('ACTIVE'), sub('PAUSED'), ['PAUSED']],
    [
      'price increase pending',
      sub('ACTIVE'),
      sub('ACTIVE', {}, priced('OUTSTANDING')),
      ['PRICE_INCREASE_PENDING'],
    ],
    [
      'price increase cancelled',
      sub('ACTIVE', {}, priced('OUTSTANDING')),
      sub('ACTIVE', {}, priced('CANCELED')),
      ['PRICE_CHANGE_CANCELED'],
    ],
    [
      'product changed in place',
      sub('ACTIVE'),
      sub('ACTIVE', {}, { productId: 'premium_plus' }),
      ['PLAN_CHANGED'],
    ],
    ['pending completed', sub('PENDING'), sub('ACTIVE'), ['SUBSCRIPTION_STARTED']],
    ['pending cancelled', sub('PENDING'), sub('PENDING_PURCHASE_CANCELED'), ['PENDING_PURCHASE_CANCELED']],
    ['never seen, active', undefined, sub('ACTIVE'), ['SUBSCRIPTION_STARTED']],
    ['never seen, expired', undefined, sub('EXPIRED', user, renewOff), ['SUBSCRIPTION_STARTED', 'EXPIRED']],
    [
      'never seen, in grace',
      undefined,
      sub('IN_GRACE_PERIOD'),
      ['SUBSCRIPTION_STARTED', 'GRACE_PERIOD_STARTED'],
    ],
  ];

  it.each(rows)('%s', (_what, prev, cur, expected) => {
    expect(types(prev, cur)).toEqual(expected);
    // Applying the fetched resource again (a second reconciliation) finds nothing.
    expect(types(cur, cur)).toEqual([]);
  });

  it('expiry after grace or hold is a billing end; otherwise the canceller decides', () => {
    const reason = (prev: SubscriptionPurchaseV2, cur: SubscriptionPurchaseV2) =>
      reconcileDrafts(snap(prev), cur)[0]?.reason;
    expect(reason(sub('ON_HOLD'), sub('EXPIRED', {}, renewOff))).toBe('BILLING_ERROR');
    expect(reason(sub('ACTIVE'), sub('EXPIRED', {}, renewOff))).toBe('OTHER');
    expect(reason(sub('CANCELED', user, renewOff), sub('EXPIRED', user, renewOff))).toBe('VOLUNTARY');
  });

  it('a replaced token changes nothing', () => {
    expect(reconcileDrafts(snap(sub('ACTIVE'), 'tok-2'), sub('EXPIRED', {}, renewOff))).toEqual([]);
  });

  it('names the differences', () => {
    expect(differences(sub('ACTIVE'), sub('ACTIVE'))).toEqual([]);
    expect(differences(sub('ACTIVE'), sub('EXPIRED', {}, { ...later, ...renewOff }))).toEqual([
      'status ACTIVE -> EXPIRED',
      'expiry 2026-02-01T10:00:00.000Z -> 2026-03-01T10:00:00.000Z',
      'autoRenew true -> false',
    ]);
    expect(differences(undefined, sub('ACTIVE'))[0]).toBe('status unknown -> ACTIVE');
  });

  it('the record is a Play push the normalizer maps with nativeType RECONCILIATION', () => {
    const r = reconcileRecord('tok-1', PACKAGE, { now: 1_767_261_600_000, requestId: 'req-1' });
    expect(r.messageId).toBe('reconcile:tok-1:1767261600000');
    expect(r.key).toBe('tok-1');
    expect(r.headers).toMatchObject({
      format: 'play-store-pubsub',
      reconcile: 'play-store:subscriptionsv2',
      'message-id': r.messageId,
    });
    const push = parsePush(r.value);
    expect(push.messageId).toBe(r.messageId);
    expect(push.notification.subscriptionNotification?.notificationType).toBe(RECONCILIATION_TYPE);
    const out = diffPlay({
      notification: push.notification,
      messageId: push.messageId,
      ctx: { receivedAt: 1, rawTopic: 'raw', rawPartition: 0, rawOffset: 1 },
      previous: snap(sub('ACTIVE')),
      subscription: sub('EXPIRED', user, renewOff),
    });
    expect(out.events.map((e) => [e.type, e.status, e.source.nativeType])).toEqual([
      ['EXPIRED', 'EXPIRED', 'RECONCILIATION'],
    ]);
    expect(out.events[0]?.eventId).toBe(`play_store:${r.messageId}:0`);
    // A Google notification keeps its own native type.
    expect(
      diffPlay({
        notification: rtdn(13),
        messageId: 'm-1',
        ctx: { receivedAt: 1, rawTopic: 'raw', rawPartition: 0, rawOffset: 1 },
        previous: snap(sub('ACTIVE')),
        subscription: sub('EXPIRED', user, renewOff),
      }).events[0]?.source.nativeType,
    ).toBe('SUBSCRIPTION_EXPIRED');
  });
});
