/**
 * A voided purchase from `purchases.voidedpurchases.list` as the raw record a live voided-purchase RTDN would
 * have become: a Pub/Sub push envelope around a DeveloperNotification with a voidedPurchaseNotification, the
 * Play receiver's key and headers, plus the backfill header. The normalizer then processes it exactly like
 * the live one, and deduplicates it against the live one by orderId (lib/core/play/processor.ts).
 * https://developers.google.com/android-publisher/api-ref/rest/v3/purchases.voidedpurchases
 * https://developer.android.com/google/play/billing/rtdn-reference#voided-purchase
 */
import { RAW_HEADERS } from '../rawHeaders';
import type { DeveloperNotification } from './model';
import { syntheticPush, type SyntheticPush } from './syntheticPush';
import type { VoidedPurchase } from './ports';

const BACKFILL_SOURCE = 'play-store:voided-purchases';

export type BackfillRecord = SyntheticPush;

/**
 * The raw record for `v`, or undefined when it lacks the token or order id a notification needs.
 * productType is left out on purpose: the list does not say whether the purchase was a subscription, and
 * the processor decides from what it knows of the token. A full refund unless a voided quantity says it was
 * quantity-based (returned only with includeQuantityBasedPartialRefund, which the backfill does not ask for).
 */
export function voidedRecord(
  v: VoidedPurchase,
  packageName: string,
  opts: { receivedAt: number; requestId: string },
): BackfillRecord | undefined {
  if (!v.purchaseToken || !v.orderId) return undefined;
  const n: DeveloperNotification = {
    version: '1.0',
    packageName,
    eventTimeMillis: v.voidedTimeMillis ?? String(opts.receivedAt),
    voidedPurchaseNotification: {
      purchaseToken: v.purchaseToken,
      orderId: v.orderId,
      refundType: v.voidedQuantity ? 2 : 1,
    },
  };
  // A stable synthetic messageId: the same voided purchase backfilled twice is the same message.
  return syntheticPush(n, `backfill-voided:${v.orderId}`, {
    ...opts,
    subscription: 'storeline-backfill',
    origin: [RAW_HEADERS.backfill, BACKFILL_SOURCE],
  });
}
