/**
 * Google Play Real-time Developer Notifications and the Play Developer API resources they point at.
 * Inbound enums are open (`Known | string` / numbers we may not know). References:
 * https://developer.android.com/google/play/billing/rtdn-reference
 * https://developers.google.com/android-publisher/api-ref/rest/v3/purchases.subscriptionsv2
 */

/** Pub/Sub push body ("wrapped" delivery). https://cloud.google.com/pubsub/docs/push */
export interface PubSubPushEnvelope {
  message: {
    /** base64 of the DeveloperNotification JSON */
    data: string;
    messageId?: string;
    message_id?: string;
    publishTime?: string;
    publish_time?: string;
    attributes?: Record<string, string>;
  };
  subscription?: string;
  deliveryAttempt?: number;
}

export interface DeveloperNotification {
  version?: string;
  packageName: string;
  /** Sent as a JSON string in every example; numbers accepted too. */
  eventTimeMillis: string | number;
  subscriptionNotification?: {
    version?: string;
    notificationType: number;
    purchaseToken: string;
    subscriptionId?: string;
  };
  oneTimeProductNotification?: {
    version?: string;
    notificationType: number;
    purchaseToken: string;
    sku?: string;
  };
  voidedPurchaseNotification?: {
    purchaseToken: string;
    orderId: string;
    productType?: number;
    refundType?: number;
  };
  pendingRefundReviewNotification?: {
    version?: string;
    pendingRefundToken?: string;
    orderId?: string;
    refundReason?: number;
    obfuscatedAccountId?: string;
  };
  testNotification?: { version?: string };
}

/** SubscriptionNotification.notificationType codes (rtdn-reference). */
export const SUBSCRIPTION_TYPES: Record<number, string> = {
  1: 'SUBSCRIPTION_RECOVERED',
  2: 'SUBSCRIPTION_RENEWED',
  3: 'SUBSCRIPTION_CANCELED',
  4: 'SUBSCRIPTION_PURCHASED',
  5: 'SUBSCRIPTION_ON_HOLD',
  6: 'SUBSCRIPTION_IN_GRACE_PERIOD',
  7: 'SUBSCRIPTION_RESTARTED',
  8: 'SUBSCRIPTION_PRICE_CHANGE_CONFIRMED',
  9: 'SUBSCRIPTION_DEFERRED',
  10: 'SUBSCRIPTION_PAUSED',
  11: 'SUBSCRIPTION_PAUSE_SCHEDULE_CHANGED',
  12: 'SUBSCRIPTION_REVOKED',
  13: 'SUBSCRIPTION_EXPIRED',
  17: 'SUBSCRIPTION_ITEMS_CHANGED',
  18: 'SUBSCRIPTION_CANCELLATION_SCHEDULED',
  19: 'SUBSCRIPTION_PRICE_CHANGE_UPDATED',
  20: 'SUBSCRIPTION_PENDING_PURCHASE_CANCELED',
  22: 'SUBSCRIPTION_PRICE_STEP_UP_CONSENT_UPDATED',
};

/**
 * The notificationType of the synthetic subscription notifications `storeline reconcile play-store` writes:
 * "no hint, derive everything from the difference between the stored and the fetched resource". Google's
 * codes start at 1 (0 is the protobuf "unspecified" slot and is never sent), so 0 cannot collide with a real
 * RTDN type; and should Google ever send an unspecified type, deriving from the resources is the right
 * handling for it too. Events from it carry source.nativeType RECONCILIATION (lib/core/play/diff.ts).
 */
export const RECONCILIATION_TYPE = 0;

export interface Money {
  currencyCode?: string;
  units?: string;
  nanos?: number;
}

export interface SubscriptionLineItem {
  productId?: string;
  expiryTime?: string;
  autoRenewingPlan?: {
    autoRenewEnabled?: boolean;
    recurringPrice?: Money;
    priceChangeDetails?: {
      newPrice?: Money;
      priceChangeMode?: string;
      priceChangeState?: string;
      expectedNewPriceChargeTime?: string;
    };
    installmentDetails?: { pendingCancellation?: object; remainingCommittedPaymentsCount?: number };
    priceStepUpConsentDetails?: { state?: string; consentDeadlineTime?: string; newPrice?: Money };
  };
  prepaidPlan?: { allowExtendAfterTime?: string };
  offerDetails?: { basePlanId?: string; offerId?: string; offerTags?: string[] };
  offerPhase?: {
    freeTrial?: object;
    introductoryPrice?: object;
    basePrice?: object;
    prorationPeriod?: object;
  };
  latestSuccessfulOrderId?: string;
}

/** purchases.subscriptionsv2.get -> SubscriptionPurchaseV2 */
export interface SubscriptionPurchaseV2 {
  kind?: string;
  regionCode?: string;
  startTime?: string;
  /** SUBSCRIPTION_STATE_{PENDING,ACTIVE,PAUSED,IN_GRACE_PERIOD,ON_HOLD,CANCELED,EXPIRED,PENDING_PURCHASE_CANCELED} */
  subscriptionState?: string;
  latestOrderId?: string;
  linkedPurchaseToken?: string;
  /** ACKNOWLEDGEMENT_STATE_PENDING | ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED */
  acknowledgementState?: string;
  externalAccountIdentifiers?: { obfuscatedExternalAccountId?: string; obfuscatedExternalProfileId?: string };
  canceledStateContext?: {
    userInitiatedCancellation?: {
      cancelTime?: string;
      cancelSurveyResult?: { reason?: string; reasonUserInput?: string };
    };
    systemInitiatedCancellation?: object;
    developerInitiatedCancellation?: object;
    replacementCancellation?: object;
  };
  pausedStateContext?: { autoResumeTime?: string };
  testPurchase?: object;
  lineItems?: SubscriptionLineItem[];
}

/** purchases.products.get -> ProductPurchase (one-time products). */
export interface ProductPurchase {
  kind?: string;
  purchaseTimeMillis?: string;
  /** 0 purchased, 1 canceled, 2 pending */
  purchaseState?: number;
  consumptionState?: number;
  orderId?: string;
  /** 0 test, 1 promo, 2 rewarded */
  purchaseType?: number;
  acknowledgementState?: number;
  quantity?: number;
  refundableQuantity?: number;
  regionCode?: string;
  obfuscatedExternalAccountId?: string;
}

/** What Storeline keeps per purchase token between notifications. */
export interface PlaySnapshot {
  token: string;
  /** Root of the linkedPurchaseToken chain: the subscriptionKey is play_store:<root>. */
  rootToken: string;
  /** Set when a newer token replaced this one (upgrade, downgrade, re-signup). */
  replacedBy: string | null;
  resource: SubscriptionPurchaseV2;
}
