/**
 * App Store Server Notifications as received. Inbound enums are open (`Known | string`): Apple adds values
 * (ONE_TIME_CHARGE 2025, RESCIND_CONSENT 2025, EXTERNAL_PURCHASE_TOKEN subtypes), and an unknown value must
 * map to UNKNOWN, never crash. Field docs:
 * https://developer.apple.com/documentation/appstoreservernotifications/responsebodyv2decodedpayload
 */

/** https://developer.apple.com/documentation/appstoreservernotifications/notificationtype */
export type KnownNotificationTypeV2 =
  | 'SUBSCRIBED'
  | 'DID_RENEW'
  | 'DID_CHANGE_RENEWAL_STATUS'
  | 'DID_CHANGE_RENEWAL_PREF'
  | 'OFFER_REDEEMED'
  | 'DID_FAIL_TO_RENEW'
  | 'GRACE_PERIOD_EXPIRED'
  | 'EXPIRED'
  | 'PRICE_INCREASE'
  | 'REFUND'
  | 'REFUND_DECLINED'
  | 'REFUND_REVERSED'
  | 'CONSUMPTION_REQUEST'
  | 'REVOKE'
  | 'RENEWAL_EXTENDED'
  | 'RENEWAL_EXTENSION'
  | 'ONE_TIME_CHARGE'
  | 'RESCIND_CONSENT'
  | 'EXTERNAL_PURCHASE_TOKEN'
  | 'METADATA_UPDATE'
  | 'MIGRATION'
  | 'PRICE_CHANGE'
  | 'TEST';

const KNOWN_NOTIFICATION_TYPES_V2: readonly KnownNotificationTypeV2[] = [
  'SUBSCRIBED',
  'DID_RENEW',
  'DID_CHANGE_RENEWAL_STATUS',
  'DID_CHANGE_RENEWAL_PREF',
  'OFFER_REDEEMED',
  'DID_FAIL_TO_RENEW',
  'GRACE_PERIOD_EXPIRED',
  'EXPIRED',
  'PRICE_INCREASE',
  'REFUND',
  'REFUND_DECLINED',
  'REFUND_REVERSED',
  'CONSUMPTION_REQUEST',
  'REVOKE',
  'RENEWAL_EXTENDED',
  'RENEWAL_EXTENSION',
  'ONE_TIME_CHARGE',
  'RESCIND_CONSENT',
  'EXTERNAL_PURCHASE_TOKEN',
  'METADATA_UPDATE',
  'MIGRATION',
  'PRICE_CHANGE',
  'TEST',
];

export function isKnownTypeV2(t: string): t is KnownNotificationTypeV2 {
  return (KNOWN_NOTIFICATION_TYPES_V2 as readonly string[]).includes(t);
}

/** https://developer.apple.com/documentation/appstoreserverapi/jwstransactiondecodedpayload */
export interface TransactionInfo {
  transactionId?: string;
  originalTransactionId?: string;
  webOrderLineItemId?: string;
  bundleId?: string;
  productId?: string;
  subscriptionGroupIdentifier?: string;
  purchaseDate?: number;
  originalPurchaseDate?: number;
  expiresDate?: number;
  quantity?: number;
  /** "Auto-Renewable Subscription" | "Non-Consumable" | "Consumable" | "Non-Renewing Subscription" */
  type?: string;
  /** UUID the app set at purchase; links the transaction to the app's user. */
  appAccountToken?: string;
  /** PURCHASED | FAMILY_SHARED */
  inAppOwnershipType?: string;
  signedDate?: number;
  /** 0 = other, 1 = app issue */
  revocationReason?: number;
  revocationDate?: number;
  /** REFUND_FULL | REFUND_PRORATED | FAMILY_REVOKE (2025-12) */
  revocationType?: string;
  /** Thousandths of a percent: 50000 = 50 %. */
  revocationPercentage?: number;
  isUpgraded?: boolean;
  /** 1 intro, 2 promotional, 3 offer code, 4 win-back */
  offerType?: number;
  offerIdentifier?: string;
  /** FREE_TRIAL | PAY_AS_YOU_GO | PAY_UP_FRONT | ONE_TIME */
  offerDiscountType?: string;
  /** ISO 8601 duration */
  offerPeriod?: string;
  environment?: string;
  /** ISO 3166-1 alpha-3 */
  storefront?: string;
  storefrontId?: string;
  /** PURCHASE | RENEWAL */
  transactionReason?: string;
  currency?: string;
  /** Milliunits: 1990 = 1.99 */
  price?: number;
}

/** https://developer.apple.com/documentation/appstoreserverapi/jwsrenewalinfodecodedpayload */
export interface RenewalInfo {
  originalTransactionId?: string;
  productId?: string;
  /** Product of the next period. */
  autoRenewProductId?: string;
  /** 0 off, 1 on */
  autoRenewStatus?: number;
  /** 1 customer cancelled, 2 billing error, 3 no price-increase consent, 4 product unavailable, 5 other */
  expirationIntent?: number;
  isInBillingRetryPeriod?: boolean;
  gracePeriodExpiresDate?: number;
  priceIncreaseStatus?: number;
  renewalPrice?: number;
  currency?: string;
  renewalDate?: number;
  recentSubscriptionStartDate?: number;
  offerType?: number;
  offerIdentifier?: string;
  appAccountToken?: string;
  environment?: string;
  signedDate?: number;
}

/** https://developer.apple.com/documentation/appstoreservernotifications/data */
interface NotificationData {
  appAppleId?: number;
  bundleId?: string;
  bundleVersion?: string;
  environment?: string;
  signedTransactionInfo?: string;
  signedRenewalInfo?: string;
  /** 1 ACTIVE, 2 EXPIRED, 3 BILLING_RETRY, 4 BILLING_GRACE_PERIOD, 5 REVOKED */
  status?: number;
  /** UNINTENDED_PURCHASE | FULFILLMENT_ISSUE | UNSATISFIED_WITH_PURCHASE | LEGAL | OTHER */
  consumptionRequestReason?: string;
}

interface NotificationSummary {
  environment?: string;
  appAppleId?: number;
  bundleId?: string;
  productId?: string;
  requestIdentifier?: string;
  storefrontCountryCodes?: string[];
  succeededCount?: number;
  failedCount?: number;
}

interface ExternalPurchaseToken {
  externalPurchaseId?: string;
  tokenCreationDate?: number;
  appAppleId?: number;
  bundleId?: string;
}

interface AppData {
  appAppleId?: number;
  bundleId?: string;
  environment?: string;
  signedAppTransactionInfo?: string;
}

/** The verified outer payload. */
export interface NotificationPayloadV2 {
  notificationType: KnownNotificationTypeV2 | string;
  subtype?: string;
  notificationUUID: string;
  version?: string;
  signedDate: number;
  data?: NotificationData;
  summary?: NotificationSummary;
  externalPurchaseToken?: ExternalPurchaseToken;
  appData?: AppData;
}

/** The outer payload with its nested JWS decoded (covered by the outer signature). */
export interface DecodedNotificationV2 {
  payload: NotificationPayloadV2;
  transaction?: TransactionInfo;
  renewal?: RenewalInfo;
}

/**
 * Legacy V1 body (unsigned; authenticated by `password`).
 * https://developer.apple.com/documentation/appstoreservernotifications/responsebodyv1
 */
export interface NotificationV1 {
  notification_type: string;
  password?: string;
  /** "Sandbox" | "PROD" */
  environment?: string;
  auto_renew_status?: string;
  auto_renew_product_id?: string;
  auto_renew_status_change_date_ms?: string;
  bid?: string;
  bvrs?: string;
  expiration_intent?: string | number;
  unified_receipt?: {
    environment?: string;
    latest_receipt_info?: ReceiptInfoV1[];
    pending_renewal_info?: PendingRenewalInfoV1[];
    status?: number;
  };
}

export interface ReceiptInfoV1 {
  transaction_id?: string;
  original_transaction_id?: string;
  product_id?: string;
  purchase_date_ms?: string;
  original_purchase_date_ms?: string;
  expires_date_ms?: string;
  cancellation_date_ms?: string;
  cancellation_reason?: string;
  is_upgraded?: string;
  is_trial_period?: string;
  is_in_intro_offer_period?: string;
  promotional_offer_id?: string;
  offer_code_ref_name?: string;
  web_order_line_item_id?: string;
  in_app_ownership_type?: string;
}

export interface PendingRenewalInfoV1 {
  auto_renew_product_id?: string;
  auto_renew_status?: string;
  original_transaction_id?: string;
  product_id?: string;
  expiration_intent?: string;
  is_in_billing_retry_period?: string;
  grace_period_expires_date_ms?: string;
  price_consent_status?: string;
}
