/**
 * Base-plan moves on realistic subscriptionsv2 chains: each new token carries `linkedPurchaseToken` to the
 * one it replaced, the old token is cancelled with `replacementCancellation`, and Google does not say
 * whether a move is an upgrade or a downgrade (docs/canonical-events.md, "Google Play", code 4 and 17).
 * Resource shapes follow https://developers.google.com/android-publisher/api-ref/rest/v3/purchases.subscriptionsv2
 */
import { diffPlay, type DiffOutput } from './diff';
import type { PlaySnapshot, SubscriptionLineItem, SubscriptionPurchaseV2 } from './model';
import { rtdn, sub } from '../../../test/kit/builders/play';

const CTX = { receivedAt: 1_767_261_600_500, rawTopic: 'raw', rawPartition: 0, rawOffset: 1 };

/** A line item on `productId`/`basePlanId` at a price, as Play returns it after a purchase. */
function plan(
  productId: string,
  basePlanId: string,
  units: string,
  order: string,
): Partial<SubscriptionLineItem> {
  return {
    productId,
    offerDetails: { basePlanId, offerTags: [] },
    autoRenewingPlan: {
      autoRenewEnabled: true,
      recurringPrice: { currencyCode: 'EUR', units, nanos: 990_000_000 },
    },
    offerPhase: { basePrice: {} },
    latestSuccessfulOrderId: order,
  };
}

function purchase(token: string, item: Partial<SubscriptionLineItem>, linked?: PlaySnapshot): DiffOutput {
  const over: Partial<SubscriptionPurchaseV2> = linked ? { linkedPurchaseToken: linked.token } : {};
  return diffPlay({
    notification: rtdn(4, token),
    messageId: `m-${token}`,
    ctx: CTX,
    linked,
    subscription: sub('ACTIVE', over, item),
  });
}

describe('Play base-plan moves', () => {
  it('premium monthly → premium 3-month on a new linked token is PLAN_CHANGED with both base plans', () => {
    const first = purchase('tok-1', plan('premium', 'monthly', '4', 'GPA.1'));
    const moved = purchase('tok-2', plan('premium', 'three-month', '12', 'GPA.2'), first.snapshot);
    expect(moved.events).toHaveLength(1);
    expect(moved.events[0]).toMatchObject({
      type: 'PLAN_CHANGED',
      subscriptionKey: 'play_store:tok-1',
      productId: 'premium',
      isResubscribe: false,
      planChange: {
        fromProductId: 'premium',
        toProductId: 'premium',
        fromBasePlanId: 'monthly',
        toBasePlanId: 'three-month',
        timing: 'IMMEDIATE',
        direction: 'UNKNOWN',
      },
    });
    expect(moved.replaces).toBe('tok-1');
  });

  it('the same product and base plan on a new linked token stays a resubscribe', () => {
    const first = purchase('tok-1', plan('premium', 'monthly', '4', 'GPA.1'));
    const again = purchase('tok-2', plan('premium', 'monthly', '4', 'GPA.2'), first.snapshot);
    expect(again.events.map((e) => [e.type, e.isResubscribe, e.planChange])).toEqual([
      ['SUBSCRIPTION_STARTED', true, null],
    ]);
  });

  it('a three-token chain: upgrade to yearly, then downgrade to another product, keyed by the root', () => {
    const a = purchase('tok-a', plan('premium', 'monthly', '4', 'GPA.a'));
    const b = purchase('tok-b', plan('premium', 'yearly', '39', 'GPA.b'), a.snapshot);
    const c = purchase('tok-c', plan('basic', 'monthly', '1', 'GPA.c'), b.snapshot);
    expect([...b.events, ...c.events].map((e) => [e.subscriptionKey, e.planChange])).toEqual([
      [
        'play_store:tok-a',
        {
          fromProductId: 'premium',
          toProductId: 'premium',
          fromBasePlanId: 'monthly',
          toBasePlanId: 'yearly',
          timing: 'IMMEDIATE',
          direction: 'UNKNOWN',
        },
      ],
      [
        'play_store:tok-a',
        {
          fromProductId: 'premium',
          toProductId: 'basic',
          fromBasePlanId: 'yearly',
          toBasePlanId: 'monthly',
          timing: 'IMMEDIATE',
          direction: 'UNKNOWN',
        },
      ],
    ]);
    expect(c.snapshot?.rootToken).toBe('tok-a');
  });

  it('a product change keeps the product ids and carries the base plans too', () => {
    const a = purchase('tok-a', plan('basic', 'monthly', '1', 'GPA.a'));
    const b = purchase('tok-b', plan('premium', 'monthly', '4', 'GPA.b'), a.snapshot);
    expect(b.events[0]?.planChange).toMatchObject({
      fromProductId: 'basic',
      toProductId: 'premium',
      fromBasePlanId: 'monthly',
      toBasePlanId: 'monthly',
    });
  });

  it('an old snapshot without offerDetails does not turn a resubscribe into a plan change', () => {
    const a = purchase('tok-a', { ...plan('premium', 'monthly', '4', 'GPA.a'), offerDetails: undefined });
    const b = purchase('tok-b', plan('premium', 'monthly', '4', 'GPA.b'), a.snapshot);
    expect(b.events[0]).toMatchObject({ type: 'SUBSCRIPTION_STARTED', isResubscribe: true });
  });

  it('ITEMS_CHANGED on the same token: a base-plan change in place is PLAN_CHANGED, a repeat is nothing', () => {
    const before = sub('ACTIVE', {}, plan('premium', 'monthly', '4', 'GPA.1'));
    const after = sub('ACTIVE', {}, plan('premium', 'yearly', '39', 'GPA.2'));
    const previous: PlaySnapshot = { token: 'tok-1', rootToken: 'tok-1', replacedBy: null, resource: before };
    const run = (prev: PlaySnapshot) =>
      diffPlay({ notification: rtdn(17), messageId: 'm-17', ctx: CTX, previous: prev, subscription: after });
    expect(run(previous).events[0]?.planChange).toMatchObject({
      fromBasePlanId: 'monthly',
      toBasePlanId: 'yearly',
    });
    expect(run({ ...previous, resource: after }).events).toEqual([]);
  });

  it('an add-on joins: base plans follow the products order', () => {
    const before = sub('ACTIVE', {}, plan('premium', 'monthly', '4', 'GPA.1'));
    const after: SubscriptionPurchaseV2 = {
      ...before,
      lineItems: [
        ...before.lineItems!,
        { ...plan('extra-storage', 'monthly-addon', '1', 'GPA.1'), expiryTime: '2026-02-01T10:00:00.000Z' },
      ],
    };
    const out = diffPlay({
      notification: rtdn(17),
      messageId: 'm-17',
      ctx: CTX,
      previous: { token: 'tok-1', rootToken: 'tok-1', replacedBy: null, resource: before },
      subscription: after,
    });
    expect(out.events[0]?.planChange).toMatchObject({
      fromProductId: 'premium',
      toProductId: 'extra-storage,premium',
      fromBasePlanId: 'monthly',
      toBasePlanId: 'monthly-addon,monthly',
    });
  });
});

describe('Play EXPIRED reason from canceledStateContext (code 3, found expired after grace or hold)', () => {
  const expiredBy = (ctx: SubscriptionPurchaseV2['canceledStateContext']) =>
    diffPlay({
      notification: rtdn(3),
      messageId: 'm-3',
      ctx: CTX,
      previous: { token: 'tok-1', rootToken: 'tok-1', replacedBy: null, resource: sub('ON_HOLD') },
      subscription: sub(
        'EXPIRED',
        { canceledStateContext: ctx },
        { autoRenewingPlan: { autoRenewEnabled: false } },
      ),
    }).events.map((e) => [e.type, e.reason]);

  it.each([
    ['the user cancelled', { userInitiatedCancellation: {} }, 'VOLUNTARY'],
    ['the system cancelled', { systemInitiatedCancellation: {} }, 'BILLING_ERROR'],
    ['the developer cancelled', { developerInitiatedCancellation: {} }, 'OTHER'],
    ['nobody is named', undefined, 'BILLING_ERROR'],
  ])('%s → %s', (_who, ctx, reason) => {
    expect(expiredBy(ctx)).toEqual([['EXPIRED', reason]]);
  });
});
