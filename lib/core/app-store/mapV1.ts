/**
 * Apple legacy V1 notifications (unsigned JSON, authenticated by the shared secret) -> canonical events,
 * pure. Table: docs/canonical-events.md ("Apple legacy V1"). Field reference:
 * https://developer.apple.com/documentation/appstoreservernotifications/responsebodyv1
 *
 * V1 carries no notification id and no signed date. eventId uses a SHA-256 of the exact body (Apple
 * re-sends the same body on retry, so replays keep their ids); occurredAt is the most specific store time in
 * the body (status-change date, cancellation date, latest purchase date), else the receive time.
 */
import { createHash } from 'node:crypto';
import type {
  EventType,
  PeriodType,
  PlanChange,
  SubscriptionEvent,
  SubscriptionStatus,
} from '../generated/avro';
import type { RawContext } from '../rawContext';
import { environmentOf } from './mapV2';
import type { NotificationV1, PendingRenewalInfoV1, ReceiptInfoV1 } from './model';

type Draft = { type: EventType } & Partial<Omit<SubscriptionEvent, 'type' | 'source'>>;

const ms = (s: string | undefined): number | null => (s === undefined || s === '' ? null : Number(s));

function byPurchaseDesc(a: ReceiptInfoV1, b: ReceiptInfoV1): number {
  return (ms(b.purchase_date_ms) ?? 0) - (ms(a.purchase_date_ms) ?? 0);
}

export function v1NotificationId(body: Buffer): string {
  return `v1-${createHash('sha256').update(body).digest('hex').slice(0, 32)}`;
}

/** The most recent transaction in the receipt: it names the subscription (original_transaction_id). */
function latestReceiptV1(n: NotificationV1): ReceiptInfoV1 | undefined {
  return [...(n.unified_receipt?.latest_receipt_info ?? [])].sort(byPurchaseDesc)[0];
}

/**
 * The raw topic key of an authentic V1 body: the latest receipt's original_transaction_id (the same one the
 * mapper keys the subscription by, so raw and canonical partitions agree), else the notification id.
 * Never throws and always a non-empty string: a malformed receipt (latest_receipt_info not an array, an id
 * that is a number) is the normalizer's to dead-letter with the reason, and must not fail the batch its
 * record is published in.
 */
export function rawKeyV1(n: NotificationV1, notificationId: string): string {
  const receipts: unknown = n.unified_receipt?.latest_receipt_info;
  if (!Array.isArray(receipts) || !receipts.every((r) => typeof r === 'object' && r !== null))
    return notificationId;
  const otid: unknown = latestReceiptV1(n)?.original_transaction_id;
  return typeof otid === 'string' && otid !== '' ? otid : notificationId;
}

/** What the mapping reads of a V1 body: the subscription's latest receipt and its renewal info. */
interface ViewV1 {
  receipts: ReceiptInfoV1[];
  latest: ReceiptInfoV1 | undefined;
  otid: string | undefined;
  /** The receipt before the latest of the same subscription: a different product there is a plan change. */
  previous: ReceiptInfoV1 | undefined;
  pending: PendingRenewalInfoV1 | undefined;
  product: string | null;
  nextProduct: string | undefined;
  grace: number | null;
  occurredAt: number;
}

function viewOf(n: NotificationV1, ctx: RawContext): ViewV1 {
  const receipts = [...(n.unified_receipt?.latest_receipt_info ?? [])].sort(byPurchaseDesc);
  const latest = receipts[0];
  const otid = latest?.original_transaction_id;
  const pending =
    (n.unified_receipt?.pending_renewal_info ?? []).find((p) => p.original_transaction_id === otid) ??
    n.unified_receipt?.pending_renewal_info?.[0];
  return {
    receipts,
    latest,
    otid,
    previous: receipts.filter((r) => r.original_transaction_id === otid)[1],
    pending,
    product: latest?.product_id ?? null,
    nextProduct: n.auto_renew_product_id ?? pending?.auto_renew_product_id,
    grace: ms(pending?.grace_period_expires_date_ms),
    occurredAt:
      ms(n.auto_renew_status_change_date_ms) ??
      ms(latest?.cancellation_date_ms) ??
      ms(latest?.purchase_date_ms) ??
      ctx.receivedAt,
  };
}

const fullRefund = () => ({ scope: 'FULL', percentage: null, quantity: null }) as const;

/** The events a notification type stands for, before the fields every event of it shares. */
function draftsOf(n: NotificationV1, v: ViewV1): Draft[] {
  switch (n.notification_type) {
    case 'INITIAL_BUY':
      return [{ type: 'SUBSCRIPTION_STARTED' }];
    case 'INTERACTIVE_RENEWAL':
      return interactiveRenewal(v);
    case 'DID_RENEW':
      return [{ type: 'RENEWED' }];
    case 'DID_RECOVER':
    case 'RENEWAL':
      return [{ type: 'BILLING_RECOVERED' }];
    case 'DID_FAIL_TO_RENEW':
      return v.grace !== null
        ? [{ type: 'GRACE_PERIOD_STARTED', reason: 'BILLING_ERROR' }]
        : [{ type: 'BILLING_RETRY_STARTED', reason: 'BILLING_ERROR' }];
    case 'DID_CHANGE_RENEWAL_STATUS':
      if (n.auto_renew_status === 'true') return [{ type: 'AUTO_RENEW_ENABLED' }];
      if (n.auto_renew_status === 'false') return [{ type: 'AUTO_RENEW_DISABLED' }];
      return [{ type: 'UNKNOWN' }];
    case 'DID_CHANGE_RENEWAL_PREF':
      return renewalPreference(v);
    case 'CANCEL':
      return cancel(v);
    case 'REFUND':
      return [{ type: 'REFUNDED', refund: fullRefund() }];
    case 'REVOKE':
      return [{ type: 'REVOKED', reason: 'FAMILY_SHARING' }];
    case 'CONSUMPTION_REQUEST':
      return [{ type: 'REFUND_REQUESTED' }];
    case 'PRICE_INCREASE_CONSENT':
      return [{ type: 'PRICE_INCREASE_PENDING' }];
    default:
      return [{ type: 'UNKNOWN' }];
  }
}

/** Apple's plan is its product id alone; base plans are Google's. */
function applePlan(
  from: string | null,
  to: string | null,
  timing: PlanChange['timing'],
  direction: PlanChange['direction'],
): PlanChange {
  return {
    fromProductId: from,
    toProductId: to,
    timing,
    direction,
    fromBasePlanId: null,
    toBasePlanId: null,
  };
}

/** A resubscription, or an immediate plan change when the product differs from the previous receipt's. */
function interactiveRenewal({ previous, product }: ViewV1): Draft[] {
  if (!previous?.product_id || previous.product_id === product)
    return [{ type: 'SUBSCRIPTION_STARTED', isResubscribe: true }];
  const planChange = applePlan(previous.product_id, product, 'IMMEDIATE', 'UNKNOWN');
  return [{ type: 'PLAN_CHANGED', planChange }];
}

/** A plan change at the next renewal, or its cancellation when the next product is the current one. */
function renewalPreference({ product, nextProduct }: ViewV1): Draft[] {
  if (nextProduct === undefined || nextProduct === product) {
    const planChange = applePlan(product, product, 'NEXT_RENEWAL', 'UNKNOWN');
    return [{ type: 'PLAN_CHANGE_CANCELED', planChange }];
  }
  const planChange = applePlan(product, nextProduct, 'NEXT_RENEWAL', 'UNKNOWN');
  return [{ type: 'PLAN_CHANGE_SCHEDULED', nextProductId: nextProduct, planChange }];
}

/** Apple Support refund, or (older docs) the old transaction of an upgrade. */
function cancel({ receipts, latest, product }: ViewV1): Draft[] {
  const cancelled = receipts.find((r) => r.cancellation_date_ms) ?? latest;
  if (cancelled?.is_upgraded === 'true') {
    const planChange = applePlan(cancelled.product_id ?? null, product, 'IMMEDIATE', 'UPGRADE');
    return [{ type: 'PLAN_CHANGED', planChange }];
  }
  const code = cancelled?.cancellation_reason;
  const reason = code === '1' ? 'APP_ISSUE' : code === '0' ? 'OTHER' : null;
  return [{ type: 'REFUNDED', refund: fullRefund(), reason }];
}

function statusOf({ latest, pending, grace, occurredAt }: ViewV1): SubscriptionStatus {
  if (latest?.cancellation_date_ms) return 'REVOKED';
  if (pending?.is_in_billing_retry_period === '1')
    return grace !== null && grace > occurredAt ? 'GRACE_PERIOD' : 'BILLING_RETRY';
  const expiresAt = ms(latest?.expires_date_ms);
  if (expiresAt !== null && expiresAt < occurredAt) return 'EXPIRED';
  return latest ? 'ACTIVE' : 'UNKNOWN';
}

function periodTypeOf(latest: ReceiptInfoV1 | undefined): PeriodType | null {
  if (latest?.is_trial_period === 'true') return 'TRIAL';
  if (latest?.is_in_intro_offer_period === 'true') return 'INTRO';
  return latest ? 'NORMAL' : null;
}

/** The notification's own auto_renew_status wins over the renewal info's. */
function autoRenewOf(n: NotificationV1, pending: PendingRenewalInfoV1 | undefined): boolean | null {
  if (n.auto_renew_status === 'true') return true;
  if (n.auto_renew_status === 'false') return false;
  if (pending?.auto_renew_status === '1') return true;
  if (pending?.auto_renew_status === '0') return false;
  return null;
}

export function mapAppStoreV1(n: NotificationV1, body: Buffer, ctx: RawContext): SubscriptionEvent[] {
  const v = viewOf(n, ctx);
  const { latest, otid, product, nextProduct } = v;
  const status = statusOf(v);
  const notificationId = v1NotificationId(body);
  const appId = n.bid ?? 'unknown';
  return draftsOf(n, v).map((d, i) => ({
    eventId: `app_store:${notificationId}:${i}`,
    store: 'APP_STORE',
    environment: environmentOf(n.environment ?? n.unified_receipt?.environment),
    appId,
    subscriptionKey: otid ? `app_store:${otid}` : `app_store:app:${appId}`,
    appUserId: null,
    productId: product,
    nextProductId: nextProduct !== undefined && nextProduct !== product ? nextProduct : null,
    transactionId: latest?.transaction_id ?? null,
    occurredAt: v.occurredAt,
    receivedAt: ctx.receivedAt,
    status,
    entitled: status === 'ACTIVE' || status === 'GRACE_PERIOD',
    autoRenew: autoRenewOf(n, v.pending),
    expiresAt: ms(latest?.expires_date_ms),
    gracePeriodExpiresAt: v.grace,
    purchasedAt: ms(latest?.purchase_date_ms),
    originalPurchasedAt: ms(latest?.original_purchase_date_ms),
    periodType: periodTypeOf(latest),
    price: null, // V1 carries no price
    reason: null,
    planChange: null,
    offer: null,
    refund: null,
    countryCode: null,
    isFamilyShare: latest?.in_app_ownership_type ? latest.in_app_ownership_type === 'FAMILY_SHARED' : null,
    isResubscribe: false,
    revision: 0,
    retracted: false,
    ...d,
    source: {
      notificationId,
      nativeType: n.notification_type,
      nativeSubtype: null,
      rawTopic: ctx.rawTopic,
      rawPartition: ctx.rawPartition,
      rawOffset: ctx.rawOffset,
    },
  }));
}
