/**
 * Google Play -> canonical events, pure: (notification, previous snapshot, fetched purchase) -> events.
 * The RTDN is a hint; the Play Developer API resource is the truth (docs/canonical-events.md, "Google Play").
 * Each rule compares the fetched resource with the stored snapshot and emits only what changed, the type
 * code breaking ties, so a duplicate or late notification that changes nothing yields no event.
 * eventIds are `play_store:<Pub/Sub messageId>:<n>`.
 */
import type { RawContext } from '../rawContext';
import type { PeriodType, SubscriptionEvent, SubscriptionStatus } from '../generated/avro';
import {
  RECONCILIATION_TYPE,
  SUBSCRIPTION_TYPES,
  type DeveloperNotification,
  type Money,
  type PlaySnapshot,
  type ProductPurchase,
  type SubscriptionPurchaseV2,
} from './model';
import {
  autoRenewOf,
  latestOrder,
  maxExpiry,
  stateOf,
  subscriptionDrafts,
  type Draft,
} from './subscriptionRules';

export interface DiffInput {
  notification: DeveloperNotification;
  messageId: string;
  ctx: RawContext;
  /** Snapshot stored for this notification's purchase token. */
  previous?: PlaySnapshot;
  /** Snapshot of the fetched resource's linkedPurchaseToken (the token it replaced), when known. */
  linked?: PlaySnapshot;
  /** purchases.subscriptionsv2.get for the token; null when Google answered 404/410 (gone). */
  subscription?: SubscriptionPurchaseV2 | null;
  /** purchases.products.get for one-time products. */
  product?: ProductPurchase | null;
  /** For refund reviews (no token): the root token of the subscription holding the order, when known. */
  orderRootToken?: string;
}

export interface DiffOutput {
  events: SubscriptionEvent[];
  /** New snapshot of the notification's token (subscriptions only). */
  snapshot?: PlaySnapshot;
  /** Token this purchase replaced: mark it so it never grants, cancels or expires anything again. */
  replaces?: string;
}

type Envelope = Partial<SubscriptionEvent>;
/** Turns drafts into finished events under one subscription key. */
type Finish = (key: string, drafts: Draft[], envelope: Envelope) => SubscriptionEvent[];

export function moneyMicros(m: Money | undefined): { amountMicros: number; currency: string } | null {
  if (!m?.currencyCode) return null;
  return {
    amountMicros: Number(m.units ?? '0') * 1_000_000 + Math.round((m.nanos ?? 0) / 1000),
    currency: m.currencyCode,
  };
}

function periodTypeOf(s: SubscriptionPurchaseV2): PeriodType | null {
  const l = s.lineItems?.[0];
  if (!l) return null;
  if (l.prepaidPlan) return 'PREPAID';
  if (l.offerPhase?.freeTrial) return 'TRIAL';
  if (l.offerPhase?.introductoryPrice) return 'INTRO';
  if (l.offerPhase?.basePrice || l.offerPhase?.prorationPeriod) return 'NORMAL';
  return l.offerDetails?.offerId ? 'PROMOTIONAL' : 'NORMAL';
}

function statusOf(s: SubscriptionPurchaseV2): SubscriptionStatus {
  switch (stateOf(s)) {
    case 'ACTIVE':
    case 'CANCELED': // auto-renew off, access until expiryTime
      return 'ACTIVE';
    case 'IN_GRACE_PERIOD':
      return 'GRACE_PERIOD';
    case 'ON_HOLD':
      return 'BILLING_RETRY';
    case 'PAUSED':
      return 'PAUSED';
    case 'EXPIRED':
    case 'PENDING_PURCHASE_CANCELED':
      return 'EXPIRED';
    case 'PENDING':
      return 'PENDING';
    default:
      return 'UNKNOWN';
  }
}

function eventTime(n: DeveloperNotification, fallback: number): number {
  const t = Number(n.eventTimeMillis);
  return Number.isFinite(t) ? t : fallback;
}

function nativeTypeOf(n: DeveloperNotification): string {
  if (n.subscriptionNotification) {
    const code = n.subscriptionNotification.notificationType;
    // Written by `storeline reconcile play-store`, not by Google: consumers can tell the two apart.
    if (code === RECONCILIATION_TYPE) return 'RECONCILIATION';
    return SUBSCRIPTION_TYPES[code] ?? `SUBSCRIPTION_${code}`;
  }
  if (n.oneTimeProductNotification)
    return `ONE_TIME_PRODUCT_${n.oneTimeProductNotification.notificationType}`;
  if (n.voidedPurchaseNotification) return 'VOIDED_PURCHASE';
  if (n.pendingRefundReviewNotification) return 'PENDING_REFUND_REVIEW';
  return n.testNotification ? 'TEST' : 'UNKNOWN';
}

function baseEvent(n: DeveloperNotification, key: string, occurredAt: number, receivedAt: number) {
  return {
    store: 'PLAY_STORE',
    environment: 'PRODUCTION',
    appId: n.packageName,
    subscriptionKey: key,
    appUserId: null,
    productId: null,
    nextProductId: null,
    transactionId: null,
    occurredAt,
    receivedAt,
    status: 'UNKNOWN',
    entitled: false,
    autoRenew: null,
    expiresAt: null,
    gracePeriodExpiresAt: null,
    purchasedAt: null,
    originalPurchasedAt: null,
    periodType: null,
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
  } satisfies Omit<SubscriptionEvent, 'eventId' | 'type' | 'source'>;
}

function finisher(input: DiffInput, occurredAt: number): Finish {
  const { notification: n, messageId, ctx } = input;
  const source = {
    notificationId: messageId,
    nativeType: nativeTypeOf(n),
    nativeSubtype: null,
    rawTopic: ctx.rawTopic,
    rawPartition: ctx.rawPartition,
    rawOffset: ctx.rawOffset,
  };
  return (key, drafts, envelope) =>
    drafts.map((d, i) => ({
      ...baseEvent(n, key, occurredAt, ctx.receivedAt),
      ...envelope,
      ...d,
      eventId: `play_store:${messageId}:${i}`,
      source,
    }));
}

/** The envelope fields a fetched subscription resource fills on every event of its notification. */
function subscriptionEnvelope(s: SubscriptionPurchaseV2, occurredAt: number, firstStart?: string): Envelope {
  const status = statusOf(s);
  const expiresAt = maxExpiry(s);
  const start = s.startTime ? Date.parse(s.startTime) : null;
  return {
    environment: s.testPurchase ? 'SANDBOX' : 'PRODUCTION',
    appUserId: s.externalAccountIdentifiers?.obfuscatedExternalAccountId ?? null,
    productId: s.lineItems?.[0]?.productId ?? null,
    transactionId: latestOrder(s),
    status,
    entitled:
      status === 'GRACE_PERIOD' || (status === 'ACTIVE' && (expiresAt === null || expiresAt > occurredAt)),
    autoRenew: autoRenewOf(s),
    expiresAt,
    gracePeriodExpiresAt: status === 'GRACE_PERIOD' ? expiresAt : null,
    purchasedAt: start,
    originalPurchasedAt: firstStart ? Date.parse(firstStart) : start,
    periodType: periodTypeOf(s),
    price: moneyMicros(s.lineItems?.[0]?.autoRenewingPlan?.recurringPrice),
    countryCode: s.regionCode ?? null,
  };
}

function diffSubscription(input: DiffInput, finish: Finish, occurredAt: number): DiffOutput {
  const { purchaseToken: token, notificationType } = input.notification.subscriptionNotification!;
  const { subscription: cur, previous: prev, linked } = input;
  // Gone (404/410): the token expired too long ago to be queried. Nothing new can be learned from it.
  if (!cur) return { events: [] };
  const rootToken =
    prev?.rootToken ?? (cur.linkedPurchaseToken ? (linked?.rootToken ?? cur.linkedPurchaseToken) : token);
  const snapshot: PlaySnapshot = { token, rootToken, replacedBy: prev?.replacedBy ?? null, resource: cur };
  // A replaced token never cancels, expires or changes the subscription it was replaced into.
  if (prev?.replacedBy) return { events: [], snapshot };
  const drafts = subscriptionDrafts(notificationType, { prev: prev?.resource, cur, linked });
  return {
    events: finish(
      `play_store:${rootToken}`,
      drafts,
      subscriptionEnvelope(cur, occurredAt, linked?.resource.startTime),
    ),
    snapshot,
    replaces: cur.linkedPurchaseToken && !prev ? cur.linkedPurchaseToken : undefined,
  };
}

function diffOneTime(input: DiffInput, finish: Finish): DiffOutput {
  const o = input.notification.oneTimeProductNotification!;
  const p = input.product;
  const key = `play_store:${p?.orderId ?? o.purchaseToken}`;
  const env: Envelope = {
    environment: p?.purchaseType === 0 ? 'SANDBOX' : 'PRODUCTION',
    productId: o.sku ?? null,
    transactionId: p?.orderId ?? null,
    appUserId: p?.obfuscatedExternalAccountId ?? null,
    purchasedAt: p?.purchaseTimeMillis ? Number(p.purchaseTimeMillis) : null,
    countryCode: p?.regionCode ?? null,
  };
  if (o.notificationType === 1) {
    const draft: Draft =
      p?.purchaseState === 2
        ? { type: 'PURCHASE_PENDING', status: 'PENDING' }
        : { type: 'ONE_TIME_PURCHASE', status: 'ACTIVE', entitled: p?.purchaseState === 0 };
    return { events: finish(key, [draft], env) };
  }
  if (o.notificationType === 2) {
    return { events: finish(key, [{ type: 'PENDING_PURCHASE_CANCELED', status: 'EXPIRED' }], env) };
  }
  return { events: finish(key, [{ type: 'UNKNOWN' }], env) };
}

function diffVoided(input: DiffInput, finish: Finish, occurredAt: number): DiffOutput {
  const v = input.notification.voidedPurchaseNotification!;
  const partial = v.refundType === 2;
  const refund: Draft = {
    type: 'REFUNDED',
    refund: { scope: partial ? 'PARTIAL_QUANTITY' : 'FULL', percentage: null, quantity: null },
    transactionId: v.orderId,
  };
  if (v.productType === 2) {
    const draft: Draft = { ...refund, status: partial ? 'ACTIVE' : 'REVOKED', entitled: partial };
    return { events: finish(`play_store:${v.orderId}`, [draft], {}) };
  }
  const cur = input.subscription;
  const root = input.previous?.rootToken ?? v.purchaseToken;
  const env = cur ? subscriptionEnvelope(cur, occurredAt) : {};
  // The voided order is the latest one: the period it paid for is gone, so access ends (REVOKED).
  // The fetched resource decides; the snapshot only when the token can no longer be queried.
  const revokes = !partial && (cur ? latestOrder(cur) : latestOrder(input.previous?.resource)) === v.orderId;
  const drafts: Draft[] = revokes
    ? [
        { ...refund, status: 'REVOKED', entitled: false },
        { type: 'REVOKED', status: 'REVOKED', entitled: false },
      ]
    : [refund];
  return { events: finish(`play_store:${root}`, drafts, { ...env, transactionId: v.orderId }) };
}

function diffRefundReview(input: DiffInput, finish: Finish): DiffOutput {
  const r = input.notification.pendingRefundReviewNotification!;
  const key = input.orderRootToken
    ? `play_store:${input.orderRootToken}`
    : `play_store:${r.orderId ?? r.pendingRefundToken ?? input.messageId}`;
  const reason = r.refundReason === undefined ? null : `REFUND_REASON_${r.refundReason}`;
  return {
    events: finish(key, [{ type: 'REFUND_REQUESTED', reason }], {
      transactionId: r.orderId ?? null,
      appUserId: r.obfuscatedAccountId ?? null,
    }),
  };
}

export function diffPlay(input: DiffInput): DiffOutput {
  const n = input.notification;
  const occurredAt = eventTime(n, input.ctx.receivedAt);
  const finish = finisher(input, occurredAt);
  if (n.subscriptionNotification) return diffSubscription(input, finish, occurredAt);
  if (n.oneTimeProductNotification) return diffOneTime(input, finish);
  if (n.voidedPurchaseNotification) return diffVoided(input, finish, occurredAt);
  if (n.pendingRefundReviewNotification) return diffRefundReview(input, finish);
  const appKey = `play_store:app:${n.packageName}`;
  return { events: finish(appKey, [{ type: n.testNotification ? 'TEST' : 'UNKNOWN' }], {}) };
}
