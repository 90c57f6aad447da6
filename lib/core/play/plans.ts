/**
 * What a Google subscription is "on": its line items' products and base plans. Google models a plan as
 * product + base plan (`lineItems[].offerDetails.basePlanId`), so `premium`/`monthly` → `premium`/`3-month`
 * is a plan change even though the product id stays the same (docs/canonical-events.md, "Google Play").
 * https://developer.android.com/google/play/billing/subscriptions#base-plans-offers
 */
import type { PlanChange } from '../generated/avro';
import type { SubscriptionLineItem, SubscriptionPurchaseV2 } from './model';

export interface Plans {
  /** Line items' product ids, sorted, joined by ','. Empty when there are no line items. */
  products: string;
  /** Their base plan ids in the same order, joined by ','; null when no line item names one. */
  basePlans: string | null;
}

const byProduct = (a: SubscriptionLineItem, b: SubscriptionLineItem) =>
  (a.productId ?? '').localeCompare(b.productId ?? '');

export function plansOf(s: SubscriptionPurchaseV2 | undefined | null): Plans {
  const items = [...(s?.lineItems ?? [])].sort(byProduct);
  const basePlans = items.map((l) => l.offerDetails?.basePlanId ?? '');
  return {
    products: items.map((l) => l.productId ?? '').join(','),
    basePlans: basePlans.some((b) => b !== '') ? basePlans.join(',') : null,
  };
}

/** Same products on the same base plans. A side that names no base plan matches any base plan. */
export function samePlans(a: Plans, b: Plans): boolean {
  if (a.products !== b.products) return false;
  return a.basePlans === null || b.basePlans === null || a.basePlans === b.basePlans;
}

/** An immediate change from `from` to `to`. Google does not say up or down, so direction is UNKNOWN. */
export function planChangeOf(from: Plans | null, to: Plans): PlanChange {
  return {
    fromProductId: from?.products || null,
    toProductId: to.products,
    timing: 'IMMEDIATE',
    direction: 'UNKNOWN',
    fromBasePlanId: from?.basePlans ?? null,
    toBasePlanId: to.basePlans,
  };
}
