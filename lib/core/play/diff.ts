/**
 * Google Play -> canonical events, pure: (notification, previous snapshot, fetched purchase) -> events.
 * The RTDN is a hint; the Play Developer API resource is the truth (docs/canonical-events.md, "Google Play").
 * Each rule compares the fetched resource with the stored snapshot and emits only what changed, the type
 * code breaking ties, so a duplicate or late notification that changes nothing yields no event.
 * eventIds are `play_store:<Pub/Sub messageId>:<n>`.
 */
import type { RawContext } from '../rawContext';
import type { EventType, PeriodType, SubscriptionEvent, SubscriptionStatus } from '../generated/avro';
import {
  SUBSCRIPTION_TYPES,
  type DeveloperNotification,
  type Money,
  type PlaySnapshot,
  type ProductPurchase,
  type SubscriptionPurchaseV2,
} from './model';

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

type Draft = { type: EventType } & Partial<Omit<SubscriptionEvent, 'type' | 'source' | 'eventId'>>;

const STATE = (s: SubscriptionPurchaseV2 | undefined | null) =>
  (s?.subscriptionState ?? '').replace('SUBSCRIPTION_STATE_', '');

export function moneyMicros(m: Money | undefined): { amountMicros: number; currency: string } | null {
  if (!m?.currencyCode) return null;
  return {
    amountMicros: Number(m.units ?? '0') * 1_000_000 + Math.round((m.nanos ?? 0) / 1000),
    currency: m.currencyCode,
  };
}

function maxExpiry(s: SubscriptionPurchaseV2 | undefined | null): number | null {
  const times = (s?.lineItems ?? [])
    .map((l) => (l.expiryTime ? Date.parse(l.expiryTime) : NaN))
    .filter((t) => !Number.isNaN(t));
  return times.length ? Math.max(...times) : null;
}

function autoRenewOf(s: SubscriptionPurchaseV2 | undefined | null): boolean | null {
  const plans = (s?.lineItems ?? []).filter((l) => l.autoRenewingPlan);
  if (plans.length === 0) return null;
  return plans.some((l) => l.autoRenewingPlan?.autoRenewEnabled === true);
}

function latestOrder(s: SubscriptionPurchaseV2 | undefined | null): string | null {
  return (
    s?.lineItems?.find((l) => l.latestSuccessfulOrderId)?.latestSuccessfulOrderId ?? s?.latestOrderId ?? null
  );
}

function products(s: SubscriptionPurchaseV2 | undefined | null): string {
  return (s?.lineItems ?? [])
    .map((l) => l.productId ?? '')
    .sort()
    .join(',');
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
  switch (STATE(s)) {
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

function priceChangeState(s: SubscriptionPurchaseV2 | undefined | null): string {
  const p = s?.lineItems?.[0]?.autoRenewingPlan;
  return `${p?.priceChangeDetails?.priceChangeMode ?? ''}:${p?.priceChangeDetails?.priceChangeState ?? ''}:${p?.priceStepUpConsentDetails?.state ?? ''}`;
}

/** PRICE_INCREASE_PENDING / ACCEPTED / PRICE_CHANGE_CANCELED from priceChangeDetails or step-up consent. */
function priceDraft(s: SubscriptionPurchaseV2): Draft | null {
  const plan = s.lineItems?.[0]?.autoRenewingPlan;
  const step = plan?.priceStepUpConsentDetails?.state;
  if (step === 'PENDING') return { type: 'PRICE_INCREASE_PENDING' };
  if (step === 'CONFIRMED' || step === 'COMPLETED') return { type: 'PRICE_INCREASE_ACCEPTED' };
  const d = plan?.priceChangeDetails;
  if (!d || d.priceChangeMode === 'PRICE_DECREASE') return null;
  switch (d.priceChangeState) {
    case 'OUTSTANDING':
      return { type: 'PRICE_INCREASE_PENDING' };
    case 'CONFIRMED':
      // An opt-out increase "confirmed" is a notice, not consent: still pending from the user's side.
      return {
        type:
          d.priceChangeMode === 'OPT_OUT_PRICE_INCREASE'
            ? 'PRICE_INCREASE_PENDING'
            : 'PRICE_INCREASE_ACCEPTED',
      };
    case 'CANCELED':
      return { type: 'PRICE_CHANGE_CANCELED' };
    default:
      return null; // APPLIED: the RENEWED at the new price covers it
  }
}

function eventTime(n: DeveloperNotification, fallback: number): number {
  const t = Number(n.eventTimeMillis);
  return Number.isFinite(t) ? t : fallback;
}

/** The subscription drafts for one notification, given the previous and fetched resources. */
function subscriptionDrafts(
  type: number,
  prev: SubscriptionPurchaseV2 | undefined,
  cur: SubscriptionPurchaseV2,
  linked?: PlaySnapshot,
): Draft[] {
  const was = STATE(prev);
  const now = STATE(cur);
  const expiryMoved = (maxExpiry(cur) ?? 0) > (maxExpiry(prev) ?? 0);
  const newOrder = latestOrder(cur) !== null && latestOrder(cur) !== latestOrder(prev);
  switch (type) {
    case 1: // RECOVERED: from account hold / grace, or resumed from pause
      if (now !== 'ACTIVE' || was === 'ACTIVE' || was === 'CANCELED') return [];
      return was === 'PAUSED' ? [{ type: 'RESUMED' }] : [{ type: 'BILLING_RECOVERED' }];
    case 2: // RENEWED: Google reports recovery from grace/hold as a renewal
      if (!prev) return [{ type: 'RENEWED' }];
      if (!newOrder && !expiryMoved) return [];
      return was === 'IN_GRACE_PERIOD' || was === 'ON_HOLD'
        ? [{ type: 'BILLING_RECOVERED' }]
        : [{ type: 'RENEWED' }];
    case 3: {
      // CANCELED
      if (cur.canceledStateContext?.replacementCancellation) return []; // old token of a plan change
      if (now === 'EXPIRED' && was !== 'EXPIRED') return [{ type: 'EXPIRED', reason: 'BILLING_ERROR' }];
      if (autoRenewOf(cur) === false && autoRenewOf(prev) !== false) {
        const survey = cur.canceledStateContext?.userInitiatedCancellation?.cancelSurveyResult?.reason;
        const reason = survey
          ? survey.replace('CANCEL_SURVEY_REASON_', '')
          : cur.canceledStateContext?.systemInitiatedCancellation
            ? 'SYSTEM'
            : cur.canceledStateContext?.developerInitiatedCancellation
              ? 'DEVELOPER'
              : null;
        return [{ type: 'AUTO_RENEW_DISABLED', reason }];
      }
      return [];
    }
    case 4: {
      // PURCHASED
      if (now === 'PENDING') return was === 'PENDING' ? [] : [{ type: 'PURCHASE_PENDING' }];
      if (prev && was !== 'PENDING') return []; // already known: a duplicate or late PURCHASED
      if (cur.linkedPurchaseToken) {
        const from = linked ? products(linked.resource) : '';
        const to = products(cur);
        if (from && from !== to) {
          return [
            {
              type: 'PLAN_CHANGED',
              planChange: { fromProductId: from, toProductId: to, timing: 'IMMEDIATE', direction: 'UNKNOWN' },
            },
          ];
        }
        return [{ type: 'SUBSCRIPTION_STARTED', isResubscribe: true }];
      }
      return [{ type: 'SUBSCRIPTION_STARTED' }];
    }
    case 5:
      return now === 'ON_HOLD' && was !== 'ON_HOLD'
        ? [{ type: 'BILLING_RETRY_STARTED', reason: 'BILLING_ERROR' }]
        : [];
    case 6:
      return now === 'IN_GRACE_PERIOD' && was !== 'IN_GRACE_PERIOD'
        ? [{ type: 'GRACE_PERIOD_STARTED', reason: 'BILLING_ERROR' }]
        : [];
    case 7:
      return autoRenewOf(cur) === true && autoRenewOf(prev) !== true ? [{ type: 'AUTO_RENEW_ENABLED' }] : [];
    case 8:
    case 19:
    case 22: {
      if (prev && priceChangeState(prev) === priceChangeState(cur)) return [];
      const d = priceDraft(cur);
      return d ? [d] : [];
    }
    case 9:
      return expiryMoved || !prev ? [{ type: 'RENEWAL_EXTENDED' }] : [];
    case 10:
      return now === 'PAUSED' && was !== 'PAUSED' ? [{ type: 'PAUSED' }] : [];
    case 11:
      return now === 'PAUSED' ? [] : [{ type: 'PAUSE_SCHEDULED' }];
    case 12:
      return was === 'EXPIRED' && prev?.canceledStateContext?.developerInitiatedCancellation
        ? []
        : [{ type: 'REVOKED', status: 'REVOKED', entitled: false }];
    case 13:
      return was === 'EXPIRED'
        ? []
        : [
            {
              type: 'EXPIRED',
              reason: cur.canceledStateContext?.userInitiatedCancellation
                ? 'VOLUNTARY'
                : cur.canceledStateContext?.systemInitiatedCancellation
                  ? 'BILLING_ERROR'
                  : 'OTHER',
            },
          ];
    case 17:
      if (prev && products(prev) === products(cur)) return [];
      return [
        {
          type: 'PLAN_CHANGED',
          planChange: {
            fromProductId: products(prev) || null,
            toProductId: products(cur),
            timing: 'IMMEDIATE',
            direction: 'UNKNOWN',
          },
        },
      ];
    case 18: {
      const pending = (s?: SubscriptionPurchaseV2) =>
        Boolean(s?.lineItems?.some((l) => l.autoRenewingPlan?.installmentDetails?.pendingCancellation));
      return pending(cur) && !pending(prev)
        ? [{ type: 'AUTO_RENEW_DISABLED', reason: 'CANCELLATION_SCHEDULED' }]
        : [];
    }
    case 20:
      return was === 'PENDING_PURCHASE_CANCELED' ? [] : [{ type: 'PENDING_PURCHASE_CANCELED' }];
    default:
      return [{ type: 'UNKNOWN' }];
  }
}

export function diffPlay(input: DiffInput): DiffOutput {
  const { notification: n, messageId, ctx } = input;
  const occurredAt = eventTime(n, ctx.receivedAt);
  const base = (key: string): Omit<SubscriptionEvent, 'eventId' | 'type' | 'source'> => ({
    store: 'PLAY_STORE',
    environment: 'PRODUCTION',
    appId: n.packageName,
    subscriptionKey: key,
    appUserId: null,
    productId: null,
    nextProductId: null,
    transactionId: null,
    occurredAt,
    receivedAt: ctx.receivedAt,
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
  });
  const nativeType = n.subscriptionNotification
    ? (SUBSCRIPTION_TYPES[n.subscriptionNotification.notificationType] ??
      `SUBSCRIPTION_${n.subscriptionNotification.notificationType}`)
    : n.oneTimeProductNotification
      ? `ONE_TIME_PRODUCT_${n.oneTimeProductNotification.notificationType}`
      : n.voidedPurchaseNotification
        ? 'VOIDED_PURCHASE'
        : n.pendingRefundReviewNotification
          ? 'PENDING_REFUND_REVIEW'
          : n.testNotification
            ? 'TEST'
            : 'UNKNOWN';
  const finish = (key: string, drafts: Draft[], envelope: Partial<SubscriptionEvent>): SubscriptionEvent[] =>
    drafts.map((d, i) => ({
      ...base(key),
      ...envelope,
      ...d,
      eventId: `play_store:${messageId}:${i}`,
      source: {
        notificationId: messageId,
        nativeType,
        nativeSubtype: null,
        rawTopic: ctx.rawTopic,
        rawPartition: ctx.rawPartition,
        rawOffset: ctx.rawOffset,
      },
    }));

  const subEnvelope = (s: SubscriptionPurchaseV2, firstStart?: string): Partial<SubscriptionEvent> => {
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
  };

  if (n.subscriptionNotification) {
    const token = n.subscriptionNotification.purchaseToken;
    const cur = input.subscription;
    const prev = input.previous;
    if (!cur) {
      // Gone (404/410): the token expired too long ago to be queried. Nothing new can be learned from it.
      return { events: [] };
    }
    const rootToken =
      prev?.rootToken ??
      (cur.linkedPurchaseToken ? (input.linked?.rootToken ?? cur.linkedPurchaseToken) : token);
    const snapshot: PlaySnapshot = { token, rootToken, replacedBy: prev?.replacedBy ?? null, resource: cur };
    // A replaced token never cancels, expires or changes the subscription it was replaced into.
    if (prev?.replacedBy) return { events: [], snapshot };
    const drafts = subscriptionDrafts(
      n.subscriptionNotification.notificationType,
      prev?.resource,
      cur,
      input.linked,
    );
    return {
      events: finish(`play_store:${rootToken}`, drafts, subEnvelope(cur, input.linked?.resource.startTime)),
      snapshot,
      replaces: cur.linkedPurchaseToken && !prev ? cur.linkedPurchaseToken : undefined,
    };
  }

  if (n.oneTimeProductNotification) {
    const o = n.oneTimeProductNotification;
    const p = input.product;
    const key = `play_store:${p?.orderId ?? o.purchaseToken}`;
    const env: Partial<SubscriptionEvent> = {
      environment: p?.purchaseType === 0 ? 'SANDBOX' : 'PRODUCTION',
      productId: o.sku ?? null,
      transactionId: p?.orderId ?? null,
      appUserId: p?.obfuscatedExternalAccountId ?? null,
      purchasedAt: p?.purchaseTimeMillis ? Number(p.purchaseTimeMillis) : null,
      countryCode: p?.regionCode ?? null,
    };
    if (o.notificationType === 1) {
      const pending = p?.purchaseState === 2;
      return {
        events: finish(
          key,
          [
            pending
              ? { type: 'PURCHASE_PENDING', status: 'PENDING' }
              : { type: 'ONE_TIME_PURCHASE', status: 'ACTIVE', entitled: p?.purchaseState === 0 },
          ],
          env,
        ),
      };
    }
    if (o.notificationType === 2)
      return { events: finish(key, [{ type: 'PENDING_PURCHASE_CANCELED', status: 'EXPIRED' }], env) };
    return { events: finish(key, [{ type: 'UNKNOWN' }], env) };
  }

  if (n.voidedPurchaseNotification) {
    const v = n.voidedPurchaseNotification;
    const partial = v.refundType === 2;
    const refund: Draft = {
      type: 'REFUNDED',
      refund: { scope: partial ? 'PARTIAL_QUANTITY' : 'FULL', percentage: null, quantity: null },
      transactionId: v.orderId,
    };
    if (v.productType === 2) {
      return {
        events: finish(
          `play_store:${v.orderId}`,
          [{ ...refund, status: partial ? 'ACTIVE' : 'REVOKED', entitled: partial }],
          {},
        ),
      };
    }
    const cur = input.subscription;
    const root = input.previous?.rootToken ?? v.purchaseToken;
    const env = cur ? subEnvelope(cur) : {};
    // The voided order is the latest one: the period it paid for is gone, so access ends (REVOKED).
    // The fetched resource decides; the snapshot only when the token can no longer be queried.
    const revokes =
      !partial && (cur ? latestOrder(cur) : latestOrder(input.previous?.resource)) === v.orderId;
    const drafts: Draft[] = revokes
      ? [
          { ...refund, status: 'REVOKED', entitled: false },
          { type: 'REVOKED', status: 'REVOKED', entitled: false },
        ]
      : [refund];
    return { events: finish(`play_store:${root}`, drafts, { ...env, transactionId: v.orderId }) };
  }

  if (n.pendingRefundReviewNotification) {
    const r = n.pendingRefundReviewNotification;
    const key = input.orderRootToken
      ? `play_store:${input.orderRootToken}`
      : `play_store:${r.orderId ?? r.pendingRefundToken ?? messageId}`;
    return {
      events: finish(
        key,
        [
          {
            type: 'REFUND_REQUESTED',
            reason: r.refundReason === undefined ? null : `REFUND_REASON_${r.refundReason}`,
          },
        ],
        {
          transactionId: r.orderId ?? null,
          appUserId: r.obfuscatedAccountId ?? null,
        },
      ),
    };
  }

  if (n.testNotification)
    return { events: finish(`play_store:app:${n.packageName}`, [{ type: 'TEST' }], {}) };
  return { events: finish(`play_store:app:${n.packageName}`, [{ type: 'UNKNOWN' }], {}) };
}
