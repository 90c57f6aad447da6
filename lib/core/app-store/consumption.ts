/**
 * The answer to Apple's CONSUMPTION_REQUEST (a customer asked for a refund), decided purely: the body of
 * Send Consumption Information from what Storeline knows (the customer's history), the app's answer (its
 * hook) and the operator's config; and, after each attempt, whether to try again before Apple's deadline.
 *
 * Apple has two versions of the endpoint:
 * - v2, the current one: PUT /inApps/v2/transactions/consumption/{transactionId} with ConsumptionRequest
 *   (https://developer.apple.com/documentation/appstoreserverapi/send-consumption-information,
 *   https://developer.apple.com/documentation/appstoreserverapi/consumptionrequest): customerConsented,
 *   consumptionPercentage (milliunits), deliveryStatus and refundPreference as strings,
 *   sampleContentProvided.
 * - v1: PUT /inApps/v1/transactions/consumption/{transactionId} with ConsumptionRequestV1
 *   (https://developer.apple.com/documentation/appstoreserverapi/send-consumption-information-v1,
 *   https://developer.apple.com/documentation/appstoreserverapi/consumptionrequestv1): every field
 *   required, enums as integers, and the fields Storeline's history can fill (accountTenure,
 *   lifetimeDollarsPurchased, lifetimeDollarsRefunded). Apple now points In-App Purchases to v2.
 */
import { parseRetryAfter } from './serverApi';

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/** Apple accepts consumption information for 12 hours after the CONSUMPTION_REQUEST's signedDate. */
export const RESPONSE_WINDOW_MS = 12 * 3_600_000;

export type ConsumptionApiVersion = 'v1' | 'v2';

/** https://developer.apple.com/documentation/appstoreserverapi/deliverystatus */
export const DELIVERY_STATUSES = [
  'DELIVERED',
  'UNDELIVERED_QUALITY_ISSUE',
  'UNDELIVERED_WRONG_ITEM',
  'UNDELIVERED_SERVER_OUTAGE',
  'UNDELIVERED_OTHER',
] as const;
type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** https://developer.apple.com/documentation/appstoreserverapi/refundpreference */
export const REFUND_PREFERENCES = ['DECLINE', 'GRANT_FULL', 'GRANT_PRORATED'] as const;
type RefundPreference = (typeof REFUND_PREFERENCES)[number];

/** https://developer.apple.com/documentation/appstoreserverapi/accounttenure */
export const AccountTenure = {
  UNDECLARED: 0,
  ZERO_TO_THREE_DAYS: 1,
  THREE_DAYS_TO_TEN_DAYS: 2,
  TEN_DAYS_TO_THIRTY_DAYS: 3,
  THIRTY_DAYS_TO_NINETY_DAYS: 4,
  NINETY_DAYS_TO_ONE_HUNDRED_EIGHTY_DAYS: 5,
  ONE_HUNDRED_EIGHTY_DAYS_TO_THREE_HUNDRED_SIXTY_FIVE_DAYS: 6,
  GREATER_THAN_THREE_HUNDRED_SIXTY_FIVE_DAYS: 7,
} as const;

/**
 * lifetimeDollarsPurchased and lifetimeDollarsRefunded share these buckets
 * (https://developer.apple.com/documentation/appstoreserverapi/lifetimedollarspurchased,
 * https://developer.apple.com/documentation/appstoreserverapi/lifetimedollarsrefunded).
 */
export const LifetimeDollars = {
  UNDECLARED: 0,
  ZERO_DOLLARS: 1,
  ONE_CENT_TO_FORTY_NINE_DOLLARS_AND_NINETY_NINE_CENTS: 2,
  FIFTY_DOLLARS_TO_NINETY_NINE_DOLLARS_AND_NINETY_NINE_CENTS: 3,
  ONE_HUNDRED_DOLLARS_TO_FOUR_HUNDRED_NINETY_NINE_DOLLARS_AND_NINETY_NINE_CENTS: 4,
  FIVE_HUNDRED_DOLLARS_TO_NINE_HUNDRED_NINETY_NINE_DOLLARS_AND_NINETY_NINE_CENTS: 5,
  ONE_THOUSAND_DOLLARS_TO_ONE_THOUSAND_NINE_HUNDRED_NINETY_NINE_DOLLARS_AND_NINETY_NINE_CENTS: 6,
  TWO_THOUSAND_DOLLARS_OR_GREATER: 7,
} as const;

/** https://developer.apple.com/documentation/appstoreserverapi/playtime */
export const PlayTime = {
  UNDECLARED: 0,
  ZERO_TO_FIVE_MINUTES: 1,
  FIVE_TO_SIXTY_MINUTES: 2,
  ONE_TO_SIX_HOURS: 3,
  SIX_HOURS_TO_TWENTY_FOUR_HOURS: 4,
  ONE_DAY_TO_FOUR_DAYS: 5,
  FOUR_DAYS_TO_SIXTEEN_DAYS: 6,
  OVER_SIXTEEN_DAYS: 7,
} as const;

/** https://developer.apple.com/documentation/appstoreserverapi/deliverystatusv1 */
const DELIVERY_STATUS_V1: Record<DeliveryStatus, number> = {
  DELIVERED: 0,
  UNDELIVERED_QUALITY_ISSUE: 1,
  UNDELIVERED_WRONG_ITEM: 2,
  UNDELIVERED_SERVER_OUTAGE: 3,
  UNDELIVERED_OTHER: 5,
};

/** https://developer.apple.com/documentation/appstoreserverapi/refundpreferencev1: 1 grant, 2 decline, 3 none. */
const REFUND_PREFERENCE_V1: Record<RefundPreference | 'NONE', number> = {
  GRANT_FULL: 1,
  GRANT_PRORATED: 1,
  DECLINE: 2,
  NONE: 3,
};

type Values<T> = T[keyof T];

/** ConsumptionRequest (v2). */
interface ConsumptionRequest {
  customerConsented: true;
  consumptionPercentage?: number;
  deliveryStatus: DeliveryStatus;
  refundPreference?: RefundPreference;
  sampleContentProvided: boolean;
}

/** ConsumptionRequestV1: every field required (https://developer.apple.com/documentation/appstoreserverapi/consumptionrequestv1). */
interface ConsumptionRequestV1 {
  accountTenure: Values<typeof AccountTenure>;
  /** A UUID, or "" when the app sets none. */
  appAccountToken: string;
  /** 0 undeclared, 1 not consumed, 2 partially, 3 fully (consumptionStatus). */
  consumptionStatus: number;
  customerConsented: true;
  deliveryStatus: number;
  lifetimeDollarsPurchased: Values<typeof LifetimeDollars>;
  lifetimeDollarsRefunded: Values<typeof LifetimeDollars>;
  /** 0 undeclared, 1 Apple, 2 non-Apple (platform). */
  platform: number;
  playTime: Values<typeof PlayTime>;
  refundPreference: number;
  sampleContentProvided: boolean;
  /** 0 undeclared, 1 active, 2 suspended, 3 terminated, 4 limited access (userStatus). */
  userStatus: number;
}

/** One event of the customer's history, as the state aggregator keeps it (only what is used here). */
export interface HistoryEvent {
  type: string;
  occurredAt: number;
  /** The subscription's first purchase, which can be older than anything Storeline saw. */
  originalPurchasedAt: number | null;
  transactionId: string | null;
  price: { amountMicros: number; currency: string } | null;
  /** Refunded share in thousandths of a percent (Apple's revocationPercentage), on REFUNDED. */
  refundPercentage: number | null;
  periodType: string | null;
  offerType: string | null;
}

/** Event types that record a charge (the transaction's price was paid). */
const CHARGES = new Set([
  'SUBSCRIPTION_STARTED',
  'RENEWED',
  'BILLING_RECOVERED',
  'ONE_TIME_PURCHASE',
  'OFFER_REDEEMED',
  'PLAN_CHANGED',
]);

export interface CustomerHistory {
  /** The first thing Storeline saw of this customer. */
  firstSeenAt: number | undefined;
  /** In USD micros; undefined when an amount's currency has no configured rate (Apple wants USD). */
  purchasedUsdMicros: number | undefined;
  refundedUsdMicros: number | undefined;
  /** A free trial or intro offer came before: the customer saw the content before paying. */
  hadTrial: boolean;
}

/**
 * Sums the customer's charges and refunds in USD, each transaction once (several events can carry the
 * same transaction: SUBSCRIPTION_STARTED and OFFER_REDEEMED). `usdPerUnit` converts other currencies; an
 * amount in a currency without a rate makes that total undeclared rather than wrong.
 */
export function summarizeHistory(
  events: readonly HistoryEvent[],
  usdPerUnit: Readonly<Record<string, number>>,
): CustomerHistory {
  const charged = new Map<string, number | undefined>();
  const refunded = new Map<string, number | undefined>();
  let firstSeenAt: number | undefined;
  let hadTrial = false;
  for (const e of events) {
    const seen = Math.min(e.occurredAt, e.originalPurchasedAt ?? e.occurredAt);
    firstSeenAt = firstSeenAt === undefined ? seen : Math.min(firstSeenAt, seen);
    if (e.periodType === 'TRIAL' || e.offerType === 'FREE_TRIAL') hadTrial = true;
    if (!e.price) continue;
    const id = e.transactionId ?? `${e.type}@${e.occurredAt}`;
    const usd = toUsdMicros(e.price, usdPerUnit);
    if (CHARGES.has(e.type) && !charged.has(id)) charged.set(id, usd);
    if (e.type === 'REFUNDED' && !refunded.has(id)) {
      const share = e.refundPercentage === null ? 1 : e.refundPercentage / 100_000;
      refunded.set(id, usd === undefined ? undefined : Math.round(usd * share));
    }
  }
  return { firstSeenAt, purchasedUsdMicros: sum(charged), refundedUsdMicros: sum(refunded), hadTrial };
}

function toUsdMicros(
  price: { amountMicros: number; currency: string },
  usdPerUnit: Readonly<Record<string, number>>,
): number | undefined {
  const currency = price.currency.toUpperCase();
  const rate = currency === 'USD' ? 1 : usdPerUnit[currency];
  return rate === undefined ? undefined : Math.round(price.amountMicros * rate);
}

function sum(amounts: Map<string, number | undefined>): number | undefined {
  let total = 0;
  for (const a of amounts.values()) {
    if (a === undefined) return undefined;
    total += a;
  }
  return total;
}

/** The customer's account age at `at`, in Apple's buckets (lower bound inclusive). */
export function tenureBucket(firstSeenAt: number | undefined, at: number): Values<typeof AccountTenure> {
  if (firstSeenAt === undefined) return AccountTenure.UNDECLARED;
  const days = Math.max(0, at - firstSeenAt) / DAY_MS;
  if (days < 3) return AccountTenure.ZERO_TO_THREE_DAYS;
  if (days < 10) return AccountTenure.THREE_DAYS_TO_TEN_DAYS;
  if (days < 30) return AccountTenure.TEN_DAYS_TO_THIRTY_DAYS;
  if (days < 90) return AccountTenure.THIRTY_DAYS_TO_NINETY_DAYS;
  if (days < 180) return AccountTenure.NINETY_DAYS_TO_ONE_HUNDRED_EIGHTY_DAYS;
  if (days < 365) return AccountTenure.ONE_HUNDRED_EIGHTY_DAYS_TO_THREE_HUNDRED_SIXTY_FIVE_DAYS;
  return AccountTenure.GREATER_THAN_THREE_HUNDRED_SIXTY_FIVE_DAYS;
}

/** A USD amount (micros) in Apple's lifetime-dollars buckets. */
export function dollarsBucket(usdMicros: number | undefined): Values<typeof LifetimeDollars> {
  if (usdMicros === undefined) return LifetimeDollars.UNDECLARED;
  const usd = usdMicros / 1_000_000;
  if (usd <= 0) return LifetimeDollars.ZERO_DOLLARS;
  if (usd < 50) return LifetimeDollars.ONE_CENT_TO_FORTY_NINE_DOLLARS_AND_NINETY_NINE_CENTS;
  if (usd < 100) return LifetimeDollars.FIFTY_DOLLARS_TO_NINETY_NINE_DOLLARS_AND_NINETY_NINE_CENTS;
  if (usd < 500)
    return LifetimeDollars.ONE_HUNDRED_DOLLARS_TO_FOUR_HUNDRED_NINETY_NINE_DOLLARS_AND_NINETY_NINE_CENTS;
  if (usd < 1000)
    return LifetimeDollars.FIVE_HUNDRED_DOLLARS_TO_NINE_HUNDRED_NINETY_NINE_DOLLARS_AND_NINETY_NINE_CENTS;
  if (usd < 2000)
    return LifetimeDollars.ONE_THOUSAND_DOLLARS_TO_ONE_THOUSAND_NINE_HUNDRED_NINETY_NINE_DOLLARS_AND_NINETY_NINE_CENTS;
  return LifetimeDollars.TWO_THOUSAND_DOLLARS_OR_GREATER;
}

/** Time the customer used the app, in Apple's buckets. */
export function playTimeBucket(ms: number | undefined): Values<typeof PlayTime> {
  if (ms === undefined || ms < 0) return PlayTime.UNDECLARED;
  if (ms < 5 * MINUTE_MS) return PlayTime.ZERO_TO_FIVE_MINUTES;
  if (ms < 60 * MINUTE_MS) return PlayTime.FIVE_TO_SIXTY_MINUTES;
  if (ms < 6 * 60 * MINUTE_MS) return PlayTime.ONE_TO_SIX_HOURS;
  if (ms < DAY_MS) return PlayTime.SIX_HOURS_TO_TWENTY_FOUR_HOURS;
  if (ms < 4 * DAY_MS) return PlayTime.ONE_DAY_TO_FOUR_DAYS;
  if (ms < 16 * DAY_MS) return PlayTime.FOUR_DAYS_TO_SIXTEEN_DAYS;
  return PlayTime.OVER_SIXTEEN_DAYS;
}

/** What only the app knows, from its hook; every field but consent optional. */
export interface AppAnswer {
  customerConsented: boolean;
  playTimeMs?: number | undefined;
  /** Milliunits, 0..100000 (v2; not sent for auto-renewable subscriptions). */
  consumptionPercentage?: number | undefined;
  deliveryStatus?: DeliveryStatus | undefined;
  refundPreference?: RefundPreference | undefined;
  sampleContentProvided?: boolean | undefined;
  /** v1 integer enums. */
  consumptionStatus?: number | undefined;
  platform?: number | undefined;
  userStatus?: number | undefined;
}

/** The operator's config. */
export interface ResponderPolicy {
  version: ConsumptionApiVersion;
  /** Consent given in the app's terms for every customer; a hook's answer overrides it. */
  assumeConsent: boolean;
  deliveryStatus: DeliveryStatus;
  refundPreference: RefundPreference | undefined;
  sampleContentProvided: boolean;
  /** v1 platform when the hook says nothing: 0 undeclared, 1 Apple, 2 non-Apple. */
  platform: number;
}

/** The refund request itself. */
export interface RefundRequestFacts {
  transactionId: string;
  /** The event's appUserId (Apple appAccountToken), when the app set one. */
  appAccountToken: string | null;
  /** The CONSUMPTION_REQUEST's signedDate. */
  requestedAt: number;
  /** An auto-renewable subscription (Apple computes its consumption itself). */
  autoRenewable: boolean;
}

export type BuildOutcome =
  | {
      kind: 'send';
      version: ConsumptionApiVersion;
      body: ConsumptionRequest | ConsumptionRequestV1;
      notes: string[];
    }
  | { kind: 'not-consented'; reason: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The body to send, or why none is sent: without the customer's consent Apple must get nothing (it
 * refuses customerConsented other than true anyway). The app's answer wins over config field by field.
 */
export function buildConsumption(
  facts: RefundRequestFacts,
  history: CustomerHistory,
  answer: AppAnswer | undefined,
  policy: ResponderPolicy,
): BuildOutcome {
  const consented = answer ? answer.customerConsented : policy.assumeConsent;
  if (!consented)
    return {
      kind: 'not-consented',
      reason: answer
        ? 'the app hook answered customerConsented=false'
        : 'no consent: no app hook, and REFUND_RESPONDER_ASSUME_CONSENT is false',
    };
  return policy.version === 'v2'
    ? buildV2(facts, history, answer, policy)
    : { kind: 'send', version: 'v1', body: buildV1(facts, history, answer, policy), notes: [] };
}

function buildV2(
  facts: RefundRequestFacts,
  history: CustomerHistory,
  answer: AppAnswer | undefined,
  policy: ResponderPolicy,
): BuildOutcome {
  const notes: string[] = [];
  const deliveryStatus = answer?.deliveryStatus ?? policy.deliveryStatus;
  let refundPreference = answer?.refundPreference ?? policy.refundPreference;
  let consumptionPercentage: number | undefined;
  // https://developer.apple.com/documentation/appstoreserverapi/consumptionpercentage: never for
  // auto-renewable subscriptions; 0 when not delivered; strictly between 0 and 100000 with GRANT_PRORATED.
  if (!facts.autoRenewable) {
    if (deliveryStatus !== 'DELIVERED') consumptionPercentage = 0;
    else if (answer?.consumptionPercentage !== undefined)
      consumptionPercentage = answer.consumptionPercentage;
  } else if (answer?.consumptionPercentage !== undefined) {
    notes.push('consumptionPercentage left out: Apple computes it for auto-renewable subscriptions');
  }
  const prorated =
    consumptionPercentage !== undefined && consumptionPercentage > 0 && consumptionPercentage < 100_000;
  if (refundPreference === 'GRANT_PRORATED' && !facts.autoRenewable && !prorated) {
    notes.push('refundPreference GRANT_PRORATED left out: it needs a consumptionPercentage in (0, 100000)');
    refundPreference = undefined;
  }
  const body: ConsumptionRequest = {
    customerConsented: true,
    ...(consumptionPercentage !== undefined && { consumptionPercentage }),
    deliveryStatus,
    ...(refundPreference !== undefined && { refundPreference }),
    sampleContentProvided:
      answer?.sampleContentProvided ?? (policy.sampleContentProvided || history.hadTrial),
  };
  return { kind: 'send', version: 'v2', body, notes };
}

function buildV1(
  facts: RefundRequestFacts,
  history: CustomerHistory,
  answer: AppAnswer | undefined,
  policy: ResponderPolicy,
): ConsumptionRequestV1 {
  const token = facts.appAccountToken;
  return {
    accountTenure: tenureBucket(history.firstSeenAt, facts.requestedAt),
    appAccountToken: token && UUID.test(token) ? token : '',
    consumptionStatus: answer?.consumptionStatus ?? 0,
    customerConsented: true,
    deliveryStatus: DELIVERY_STATUS_V1[answer?.deliveryStatus ?? policy.deliveryStatus],
    lifetimeDollarsPurchased: dollarsBucket(history.purchasedUsdMicros),
    lifetimeDollarsRefunded: dollarsBucket(history.refundedUsdMicros),
    platform: answer?.platform ?? policy.platform,
    playTime: playTimeBucket(answer?.playTimeMs),
    refundPreference: REFUND_PREFERENCE_V1[answer?.refundPreference ?? policy.refundPreference ?? 'NONE'],
    sampleContentProvided:
      answer?.sampleContentProvided ?? (policy.sampleContentProvided || history.hadTrial),
    userStatus: answer?.userStatus ?? 0,
  };
}

/** Apple's path for the version. */
export function consumptionPath(version: ConsumptionApiVersion, transactionId: string): string {
  return `/inApps/${version}/transactions/consumption/${encodeURIComponent(transactionId)}`;
}

export function responseDeadline(requestedAt: number): number {
  return requestedAt + RESPONSE_WINDOW_MS;
}

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** What one attempt got: an HTTP status, or none (network failure, timeout). */
export interface AttemptResult {
  status: number | undefined;
  retryAfter?: string | null | undefined;
}

export type NextStep =
  | { kind: 'sent' }
  | { kind: 'refused' }
  | { kind: 'retry'; at: number }
  | { kind: 'expired'; reason: string };

/**
 * After attempt number `attempt` (1 = the first): done (2xx), refused (another 4xx: sending the same
 * again cannot help), or another attempt at a time before the deadline (429, 5xx, network; Retry-After
 * honoured, else exponential backoff), or expired when no attempt fits before the deadline.
 */
export function afterAttempt(
  result: AttemptResult,
  attempt: number,
  now: number,
  deadline: number,
  backoff: Backoff,
): NextStep {
  const { status } = result;
  if (status !== undefined && status >= 200 && status < 300) return { kind: 'sent' };
  const transient = status === undefined || status === 429 || (status >= 500 && status <= 599);
  if (!transient) return { kind: 'refused' };
  const told = parseRetryAfter(result.retryAfter, now);
  const wait = told ?? Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, attempt - 1));
  const at = now + wait;
  if (at >= deadline)
    return { kind: 'expired', reason: `no attempt fits before the deadline after ${attempt} attempt(s)` };
  return { kind: 'retry', at };
}
