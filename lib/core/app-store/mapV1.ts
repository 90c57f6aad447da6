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
import type { EventType, SubscriptionEvent, SubscriptionStatus } from '../generated/avro';
import type { RawContext } from '../rawContext';
import { environmentOf } from './mapV2';
import type { NotificationV1, ReceiptInfoV1 } from './model';

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

export function mapAppStoreV1(n: NotificationV1, body: Buffer, ctx: RawContext): SubscriptionEvent[] {
  const receipts = [...(n.unified_receipt?.latest_receipt_info ?? [])].sort(byPurchaseDesc);
  const latest = receipts[0];
  const otid = latest?.original_transaction_id;
  const sameSub = receipts.filter((r) => r.original_transaction_id === otid);
  const previous = sameSub[1];
  const pending =
    (n.unified_receipt?.pending_renewal_info ?? []).find((p) => p.original_transaction_id === otid) ??
    n.unified_receipt?.pending_renewal_info?.[0];
  const product = latest?.product_id ?? null;
  const nextProduct = n.auto_renew_product_id ?? pending?.auto_renew_product_id;
  const grace = ms(pending?.grace_period_expires_date_ms);
  const occurredAt =
    ms(n.auto_renew_status_change_date_ms) ??
    ms(latest?.cancellation_date_ms) ??
    ms(latest?.purchase_date_ms) ??
    ctx.receivedAt;

  const drafts = ((): Draft[] => {
    switch (n.notification_type) {
      case 'INITIAL_BUY':
        return [{ type: 'SUBSCRIPTION_STARTED' }];
      case 'INTERACTIVE_RENEWAL':
        return previous?.product_id && previous.product_id !== product
          ? [
              {
                type: 'PLAN_CHANGED',
                planChange: {
                  fromProductId: previous.product_id,
                  toProductId: product,
                  timing: 'IMMEDIATE',
                  direction: 'UNKNOWN',
                },
              },
            ]
          : [{ type: 'SUBSCRIPTION_STARTED', isResubscribe: true }];
      case 'DID_RENEW':
        return [{ type: 'RENEWED' }];
      case 'DID_RECOVER':
      case 'RENEWAL':
        return [{ type: 'BILLING_RECOVERED' }];
      case 'DID_FAIL_TO_RENEW':
        return grace !== null
          ? [{ type: 'GRACE_PERIOD_STARTED', reason: 'BILLING_ERROR' }]
          : [{ type: 'BILLING_RETRY_STARTED', reason: 'BILLING_ERROR' }];
      case 'DID_CHANGE_RENEWAL_STATUS':
        if (n.auto_renew_status === 'true') return [{ type: 'AUTO_RENEW_ENABLED' }];
        if (n.auto_renew_status === 'false') return [{ type: 'AUTO_RENEW_DISABLED' }];
        return [{ type: 'UNKNOWN' }];
      case 'DID_CHANGE_RENEWAL_PREF':
        return nextProduct === undefined || nextProduct === product
          ? [
              {
                type: 'PLAN_CHANGE_CANCELED',
                planChange: {
                  fromProductId: product,
                  toProductId: product,
                  timing: 'NEXT_RENEWAL',
                  direction: 'UNKNOWN',
                },
              },
            ]
          : [
              {
                type: 'PLAN_CHANGE_SCHEDULED',
                nextProductId: nextProduct,
                planChange: {
                  fromProductId: product,
                  toProductId: nextProduct,
                  timing: 'NEXT_RENEWAL',
                  direction: 'UNKNOWN',
                },
              },
            ];
      case 'CANCEL': {
        // Apple Support refund, or (older docs) the old transaction of an upgrade.
        const cancelled = receipts.find((r) => r.cancellation_date_ms) ?? latest;
        if (cancelled?.is_upgraded === 'true') {
          return [
            {
              type: 'PLAN_CHANGED',
              planChange: {
                fromProductId: cancelled.product_id ?? null,
                toProductId: product,
                timing: 'IMMEDIATE',
                direction: 'UPGRADE',
              },
            },
          ];
        }
        const reason =
          cancelled?.cancellation_reason === '1'
            ? 'APP_ISSUE'
            : cancelled?.cancellation_reason === '0'
              ? 'OTHER'
              : null;
        return [{ type: 'REFUNDED', refund: { scope: 'FULL', percentage: null, quantity: null }, reason }];
      }
      case 'REFUND':
        return [{ type: 'REFUNDED', refund: { scope: 'FULL', percentage: null, quantity: null } }];
      case 'REVOKE':
        return [{ type: 'REVOKED', reason: 'FAMILY_SHARING' }];
      case 'CONSUMPTION_REQUEST':
        return [{ type: 'REFUND_REQUESTED' }];
      case 'PRICE_INCREASE_CONSENT':
        return [{ type: 'PRICE_INCREASE_PENDING' }];
      default:
        return [{ type: 'UNKNOWN' }];
    }
  })();

  const expiresAt = ms(latest?.expires_date_ms);
  const status: SubscriptionStatus = latest?.cancellation_date_ms
    ? 'REVOKED'
    : pending?.is_in_billing_retry_period === '1'
      ? grace !== null && grace > occurredAt
        ? 'GRACE_PERIOD'
        : 'BILLING_RETRY'
      : expiresAt !== null && expiresAt < occurredAt
        ? 'EXPIRED'
        : latest
          ? 'ACTIVE'
          : 'UNKNOWN';
  const notificationId = v1NotificationId(body);
  const appId = n.bid ?? 'unknown';
  const periodType =
    latest?.is_trial_period === 'true'
      ? 'TRIAL'
      : latest?.is_in_intro_offer_period === 'true'
        ? 'INTRO'
        : latest
          ? 'NORMAL'
          : null;
  const autoRenew =
    n.auto_renew_status === 'true'
      ? true
      : n.auto_renew_status === 'false'
        ? false
        : pending?.auto_renew_status === '1'
          ? true
          : pending?.auto_renew_status === '0'
            ? false
            : null;

  return drafts.map((d, i) => ({
    eventId: `app_store:${notificationId}:${i}`,
    store: 'APP_STORE',
    environment: environmentOf(n.environment ?? n.unified_receipt?.environment),
    appId,
    subscriptionKey: otid ? `app_store:${otid}` : `app_store:app:${appId}`,
    appUserId: null,
    productId: product,
    nextProductId: nextProduct !== undefined && nextProduct !== product ? nextProduct : null,
    transactionId: latest?.transaction_id ?? null,
    occurredAt,
    receivedAt: ctx.receivedAt,
    status,
    entitled: status === 'ACTIVE' || status === 'GRACE_PERIOD',
    autoRenew,
    expiresAt,
    gracePeriodExpiresAt: grace,
    purchasedAt: ms(latest?.purchase_date_ms),
    originalPurchasedAt: ms(latest?.original_purchase_date_ms),
    periodType,
    price: null, // V1 carries no price
    reason: null,
    planChange: null,
    offer: null,
    refund: null,
    countryCode: null,
    isFamilyShare: latest?.in_app_ownership_type ? latest.in_app_ownership_type === 'FAMILY_SHARED' : null,
    isResubscribe: false,
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
