/**
 * Apple App Store Server Notifications V2 -> canonical SubscriptionEvents, pure. The table is the product
 * contract in docs/canonical-events.md ("Apple App Store Server Notifications V2").
 *
 * Subtypes: where the subtype decides the lifecycle (SUBSCRIBED, DID_RENEW, DID_CHANGE_RENEWAL_STATUS,
 * DID_CHANGE_RENEWAL_PREF, OFFER_REDEEMED, DID_FAIL_TO_RENEW, PRICE_INCREASE, RENEWAL_EXTENSION) an
 * unknown subtype yields UNKNOWN with the native type and subtype kept. Where it only refines (EXPIRED's
 * reason), an unknown subtype keeps the lifecycle and falls back to reason OTHER.
 * Access and status come from the store's view (data.status, the transaction), not from the type.
 */
import { assertNever } from '../errors';
import type {
  EventType,
  Offer,
  PeriodType,
  PlanChange,
  Refund,
  SubscriptionEvent,
  SubscriptionStatus,
} from '../generated/avro';
import type { RawContext } from '../rawContext';
import { isKnownTypeV2, type DecodedNotificationV2, type TransactionInfo } from './model';
import { appIdentity } from './identity';

type EventDraft = { type: EventType } & Partial<Omit<SubscriptionEvent, 'type' | 'source'>>;

/** https://developer.apple.com/documentation/appstoreservernotifications/status */
function statusFromApple(
  status: number | undefined,
  tx: TransactionInfo | undefined,
  at: number,
): SubscriptionStatus {
  switch (status) {
    case 1:
      return 'ACTIVE';
    case 2:
      return 'EXPIRED';
    case 3:
      return 'BILLING_RETRY';
    case 4:
      return 'GRACE_PERIOD';
    case 5:
      return 'REVOKED';
    default:
      break;
  }
  // No status: one-time purchases and notices. Derive from the transaction when there is one.
  if (!tx) return 'UNKNOWN';
  if (tx.revocationDate !== undefined) return 'REVOKED';
  if (tx.expiresDate !== undefined && tx.expiresDate < at) return 'EXPIRED';
  return 'ACTIVE';
}

export function environmentOf(env: string | undefined): SubscriptionEvent['environment'] {
  switch (env) {
    case 'Production':
    case 'PROD':
      return 'PRODUCTION';
    case 'Sandbox':
    case 'Xcode':
    case 'LocalTesting':
      return 'SANDBOX';
    default:
      return 'UNKNOWN';
  }
}

/** offerType: 1 intro, 2 promotional, 3 offer code, 4 win-back. */
function offerOf(tx: TransactionInfo | undefined): Offer | null {
  if (!tx || tx.offerType === undefined) return null;
  const freeTrial = tx.offerDiscountType === 'FREE_TRIAL';
  const type: Offer['type'] =
    tx.offerType === 1
      ? freeTrial
        ? 'FREE_TRIAL'
        : 'INTRO'
      : tx.offerType === 2
        ? 'PROMOTIONAL'
        : tx.offerType === 3
          ? 'OFFER_CODE'
          : tx.offerType === 4
            ? 'WIN_BACK'
            : 'UNKNOWN';
  return {
    type,
    id: tx.offerIdentifier ?? null,
    discountType: tx.offerDiscountType ?? null,
    period: tx.offerPeriod ?? null,
  };
}

function periodTypeOf(tx: TransactionInfo | undefined): PeriodType | null {
  if (!tx) return null;
  if (tx.type === 'Non-Renewing Subscription') return 'PREPAID';
  if (tx.type !== 'Auto-Renewable Subscription') return null;
  const offer = offerOf(tx);
  if (!offer) return 'NORMAL';
  if (offer.discountType === 'FREE_TRIAL') return 'TRIAL';
  return offer.type === 'INTRO' ? 'INTRO' : 'PROMOTIONAL';
}

function expirationReason(subtype: string | undefined): string {
  switch (subtype) {
    case 'VOLUNTARY':
      return 'VOLUNTARY';
    case 'BILLING_RETRY':
      return 'BILLING_ERROR';
    case 'PRICE_INCREASE':
      return 'PRICE_INCREASE_DECLINED';
    case 'PRODUCT_NOT_FOR_SALE':
      return 'PRODUCT_UNAVAILABLE';
    default:
      return 'OTHER';
  }
}

function refundOf(tx: TransactionInfo | undefined): Refund {
  const scope: Refund['scope'] =
    tx?.revocationType === 'REFUND_PRORATED'
      ? 'PRORATED'
      : tx?.revocationType === 'REFUND_FULL' || tx?.revocationType === undefined
        ? 'FULL' // before 2025-12 Apple sent no revocationType; those refunds were full
        : 'UNKNOWN';
  return { scope, percentage: tx?.revocationPercentage ?? null, quantity: null };
}

function revocationReason(tx: TransactionInfo | undefined): string | null {
  if (tx?.revocationReason === 1) return 'APP_ISSUE';
  if (tx?.revocationReason === 0) return 'OTHER';
  return null;
}

function planChange(
  from: string | undefined | null,
  to: string | undefined | null,
  timing: PlanChange['timing'],
  direction: PlanChange['direction'],
): PlanChange {
  // Base plans are Google's; Apple's plan is its product id alone.
  return {
    fromProductId: from ?? null,
    toProductId: to ?? null,
    timing,
    direction,
    fromBasePlanId: null,
    toBasePlanId: null,
  };
}

/** DID_CHANGE_RENEWAL_PREF by subtype; undefined for an unknown one. */
function renewalPreference(
  sub: string | undefined,
  product?: string,
  next?: string,
): EventDraft[] | undefined {
  if (sub === 'UPGRADE') {
    return [{ type: 'PLAN_CHANGED', planChange: planChange(null, product, 'IMMEDIATE', 'UPGRADE') }];
  }
  if (sub === 'DOWNGRADE') {
    return [
      { type: 'PLAN_CHANGE_SCHEDULED', planChange: planChange(product, next, 'NEXT_RENEWAL', 'DOWNGRADE') },
    ];
  }
  if (sub !== undefined) return undefined;
  // No subtype: back to the current product (a pending change withdrawn), or a crossgrade.
  return next === undefined || next === product
    ? [{ type: 'PLAN_CHANGE_CANCELED', planChange: planChange(product, product, 'NEXT_RENEWAL', 'UNKNOWN') }]
    : [
        {
          type: 'PLAN_CHANGE_SCHEDULED',
          planChange: planChange(product, next, 'NEXT_RENEWAL', 'CROSSGRADE'),
        },
      ];
}

/** OFFER_REDEEMED, with the plan change an upgrade or downgrade offer makes; undefined for an unknown subtype. */
function offerRedeemed(sub: string | undefined, product?: string, next?: string): EventDraft[] | undefined {
  if (sub === undefined) return [{ type: 'OFFER_REDEEMED' }];
  if (sub !== 'UPGRADE' && sub !== 'DOWNGRADE') return undefined;
  return [{ type: 'OFFER_REDEEMED' }, ...(renewalPreference(sub, product, next) ?? [])];
}

/** The events one notification yields, before the common envelope is filled in. */
function drafts(n: DecodedNotificationV2): EventDraft[] {
  const { payload, transaction: tx, renewal } = n;
  const type = payload.notificationType;
  const sub = payload.subtype;
  const unknown: EventDraft[] = [{ type: 'UNKNOWN' }];
  if (!isKnownTypeV2(type)) return unknown;
  const product = tx?.productId ?? renewal?.productId;
  const next = renewal?.autoRenewProductId;

  switch (type) {
    case 'SUBSCRIBED':
      if (sub === 'INITIAL_BUY') return [{ type: 'SUBSCRIPTION_STARTED' }];
      if (sub === 'RESUBSCRIBE') return [{ type: 'SUBSCRIPTION_STARTED', isResubscribe: true }];
      return unknown;
    case 'DID_RENEW':
      if (sub === undefined) return [{ type: 'RENEWED' }];
      if (sub === 'BILLING_RECOVERY') return [{ type: 'BILLING_RECOVERED' }];
      return unknown;
    case 'DID_CHANGE_RENEWAL_STATUS':
      if (sub === 'AUTO_RENEW_DISABLED') return [{ type: 'AUTO_RENEW_DISABLED' }];
      if (sub === 'AUTO_RENEW_ENABLED') return [{ type: 'AUTO_RENEW_ENABLED' }];
      return unknown;
    case 'DID_CHANGE_RENEWAL_PREF':
      return renewalPreference(sub, product, next) ?? unknown;
    case 'OFFER_REDEEMED':
      return offerRedeemed(sub, product, next) ?? unknown;
    case 'DID_FAIL_TO_RENEW':
      if (sub === 'GRACE_PERIOD') return [{ type: 'GRACE_PERIOD_STARTED', reason: 'BILLING_ERROR' }];
      if (sub === undefined) return [{ type: 'BILLING_RETRY_STARTED', reason: 'BILLING_ERROR' }];
      return unknown;
    case 'GRACE_PERIOD_EXPIRED':
      return [{ type: 'GRACE_PERIOD_ENDED', reason: 'BILLING_ERROR' }];
    case 'EXPIRED':
      return [{ type: 'EXPIRED', reason: expirationReason(sub) }];
    case 'PRICE_INCREASE':
      if (sub === 'PENDING') return [{ type: 'PRICE_INCREASE_PENDING' }];
      if (sub === 'ACCEPTED') return [{ type: 'PRICE_INCREASE_ACCEPTED' }];
      return unknown;
    case 'REFUND':
      return [{ type: 'REFUNDED', refund: refundOf(tx), reason: revocationReason(tx) }];
    case 'REFUND_DECLINED':
      return [{ type: 'REFUND_DECLINED' }];
    case 'REFUND_REVERSED':
      return [{ type: 'REFUND_REVERSED' }];
    case 'CONSUMPTION_REQUEST':
      return [{ type: 'REFUND_REQUESTED', reason: payload.data?.consumptionRequestReason ?? null }];
    case 'REVOKE':
      return [{ type: 'REVOKED', reason: 'FAMILY_SHARING' }];
    case 'RENEWAL_EXTENDED':
      return [{ type: 'RENEWAL_EXTENDED' }];
    case 'RENEWAL_EXTENSION':
      if (sub === 'FAILURE') return [{ type: 'RENEWAL_EXTENSION_FAILED' }];
      if (sub === 'SUMMARY') return [{ type: 'STORE_NOTICE' }];
      return unknown;
    case 'ONE_TIME_CHARGE':
      return [{ type: 'ONE_TIME_PURCHASE' }];
    case 'RESCIND_CONSENT':
      return [{ type: 'CONSENT_REVOKED' }];
    case 'EXTERNAL_PURCHASE_TOKEN':
    case 'METADATA_UPDATE':
    case 'MIGRATION':
    case 'PRICE_CHANGE':
      return [{ type: 'STORE_NOTICE' }];
    case 'TEST':
      return [{ type: 'TEST' }];
    default:
      return assertNever(type, 'notificationType');
  }
}

/** Canonical events of one verified, decoded V2 notification; eventIds are `app_store:<uuid>:<n>`. */
export function mapAppStoreV2(n: DecodedNotificationV2, ctx: RawContext): SubscriptionEvent[] {
  const { payload, transaction: tx, renewal } = n;
  const id = appIdentity(payload);
  const appId = id.bundleId ?? tx?.bundleId ?? 'unknown';
  const occurredAt = payload.signedDate;
  const status = statusFromApple(payload.data?.status, tx, occurredAt);
  const productId = tx?.productId ?? renewal?.productId ?? payload.summary?.productId ?? null;
  const next = renewal?.autoRenewProductId;
  const originalTransactionId = tx?.originalTransactionId ?? renewal?.originalTransactionId;

  const base: Omit<SubscriptionEvent, 'eventId' | 'type'> = {
    store: 'APP_STORE',
    environment: environmentOf(id.environment),
    appId,
    // App-level notices (TEST, summaries, consent, external tokens) key by app so they stay ordered per app.
    subscriptionKey: originalTransactionId ? `app_store:${originalTransactionId}` : `app_store:app:${appId}`,
    appUserId: tx?.appAccountToken ?? renewal?.appAccountToken ?? null,
    productId,
    nextProductId: next !== undefined && next !== productId ? next : null,
    transactionId: tx?.transactionId ?? null,
    occurredAt,
    receivedAt: ctx.receivedAt,
    status,
    // Access follows the store's view: ACTIVE and GRACE_PERIOD keep access, everything else does not.
    entitled: status === 'ACTIVE' || status === 'GRACE_PERIOD',
    autoRenew: renewal?.autoRenewStatus === undefined ? null : renewal.autoRenewStatus === 1,
    expiresAt: tx?.expiresDate ?? null,
    gracePeriodExpiresAt: renewal?.gracePeriodExpiresDate ?? null,
    purchasedAt: tx?.purchaseDate ?? null,
    originalPurchasedAt: tx?.originalPurchaseDate ?? null,
    periodType: periodTypeOf(tx),
    price:
      tx?.price !== undefined && tx.currency
        ? { amountMicros: tx.price * 1000, currency: tx.currency }
        : null,
    reason: null,
    planChange: null,
    offer: offerOf(tx),
    refund: null,
    countryCode: tx?.storefront ?? null,
    isFamilyShare: tx?.inAppOwnershipType === undefined ? null : tx.inAppOwnershipType === 'FAMILY_SHARED',
    isResubscribe: false,
    revision: 0,
    retracted: false,
    source: {
      notificationId: payload.notificationUUID,
      nativeType: payload.notificationType,
      nativeSubtype: payload.subtype ?? null,
      rawTopic: ctx.rawTopic,
      rawPartition: ctx.rawPartition,
      rawOffset: ctx.rawOffset,
    },
  };
  return drafts(n).map((d, i) => ({
    ...base,
    ...d,
    nextProductId:
      d.planChange?.timing === 'NEXT_RENEWAL' && d.type === 'PLAN_CHANGE_SCHEDULED'
        ? (d.planChange.toProductId ?? base.nextProductId)
        : base.nextProductId,
    eventId: `app_store:${payload.notificationUUID}:${i}`,
  }));
}
