/**
 * The trigger decision core, pure: (event, subscription history, now, rules) -> { emit, schedule, cancel }.
 * triggerIds are deterministic (`<kind>:<subscriptionKey>:<cause eventId>`), so a replayed event decides
 * the same triggers and the outbox drops the repeats.
 */
import type { EngagementTrigger, EventType, SubscriptionEvent, TriggerKind } from '../generated/avro';
import type { CancelScope, Rules } from './rules';

const DAY_MS = 86_400_000;

export interface TriggerHistory {
  /** Triggers already sent or pending for this user (or subscription), for frequency caps. */
  recent: { kind: TriggerKind; at: number }[];
  /** Refunds of this appUserId within the rules' window, this event included. */
  userRefunds: number;
}

/**
 * Pending triggers of `kinds` to cancel: those of the subscription, and with scope `user` also those of
 * every other subscription of the appUserId. The scope comes from the rule of each kind.
 */
export type CancelTarget =
  | { scope: 'subscription'; kinds: TriggerKind[]; subscriptionKey: string }
  | { scope: 'user'; kinds: TriggerKind[]; subscriptionKey: string; appUserId: string };

export interface Decision {
  emit: EngagementTrigger[];
  schedule: EngagementTrigger[];
  cancel: CancelTarget[];
}

/** Events after which a pending offer makes no sense any more. */
const CAME_BACK = new Set<EventType>([
  'SUBSCRIPTION_STARTED',
  'RENEWED',
  'BILLING_RECOVERED',
  'AUTO_RENEW_ENABLED',
  'RESUMED',
  'REFUND_REVERSED',
]);
const PRICE_SETTLED = new Set<EventType>([
  'PRICE_INCREASE_ACCEPTED',
  'PRICE_CHANGE_CANCELED',
  'EXPIRED',
  'REVOKED',
]);

/** The kinds that wait (delayed), so can be cancelled: which events cancel each, and which rule scopes it. */
type Cancellable = 'WINBACK_OFFER' | 'CANCELLATION_SAVE_OFFER' | 'PRICE_INCREASE_CONSENT_REMINDER';
const CANCELLED_BY: Record<Cancellable, { by: ReadonlySet<EventType>; scope: (r: Rules) => CancelScope }> = {
  WINBACK_OFFER: { by: CAME_BACK, scope: (r) => r.winbackOffer.cancelScope },
  CANCELLATION_SAVE_OFFER: {
    by: new Set<EventType>([...CAME_BACK, 'EXPIRED', 'REVOKED']),
    scope: (r) => r.cancellationSaveOffer.cancelScope,
  },
  PRICE_INCREASE_CONSENT_REMINDER: {
    by: PRICE_SETTLED,
    scope: (r) => r.priceIncreaseConsentReminder.cancelScope,
  },
};

const CANCELLABLE = Object.keys(CANCELLED_BY) as Cancellable[];

/** What `e` cancels, one target per scope. Without an appUserId there is no user to widen to. */
function cancellations(e: SubscriptionEvent, rules: Rules): CancelTarget[] {
  const hit = CANCELLABLE.filter((k) => CANCELLED_BY[k].by.has(e.type));
  const user = e.appUserId || null;
  const widened = (k: Cancellable) => user !== null && CANCELLED_BY[k].scope(rules) === 'user';
  const own = hit.filter((k) => !widened(k));
  const wide = hit.filter(widened);
  const targets: CancelTarget[] = [];
  if (own.length > 0) targets.push({ scope: 'subscription', kinds: own, subscriptionKey: e.subscriptionKey });
  if (wide.length > 0 && user !== null)
    targets.push({ scope: 'user', kinds: wide, subscriptionKey: e.subscriptionKey, appUserId: user });
  return targets;
}

type Context = Record<string, string | number | null | undefined>;

/** The trigger `e` causes; its id is deterministic, so a replayed event yields the same one. */
function triggerOf(
  e: SubscriptionEvent,
  kind: TriggerKind,
  dueAt: number,
  context: Context = {},
): EngagementTrigger {
  return {
    triggerId: `${kind}:${e.subscriptionKey}:${e.eventId}`,
    kind,
    subscriptionKey: e.subscriptionKey,
    appUserId: e.appUserId,
    appId: e.appId,
    store: e.store,
    environment: e.environment,
    dueAt,
    firedAt: dueAt, // set again when actually sent
    cause: { eventId: e.eventId, eventType: e.type },
    context: Object.fromEntries(
      Object.entries({ productId: e.productId, ...context })
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => [k, String(v)]),
    ),
  };
}

/** Whether the kind's frequency cap is reached in the history. */
function capped(kind: TriggerKind, history: TriggerHistory, now: number, rules: Rules): boolean {
  const cap = rules.frequencyCaps[kind];
  if (!cap) return false;
  return (
    history.recent.filter((r) => r.kind === kind && r.at > now - cap.windowSeconds * 1000).length >= cap.max
  );
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function decide(e: SubscriptionEvent, history: TriggerHistory, now: number, rules: Rules): Decision {
  // A correction (storeline renormalize) never fires or cancels anything: triggers reach end users, and a
  // second win-back or a withdrawn welcome because a mapping was fixed weeks later helps nobody
  // (docs/triggers.md#corrections).
  if (e.revision > 0) return { emit: [], schedule: [], cancel: [] };
  // Cancellations apply even when the event fires nothing (sandbox): a pending trigger must not outlive its reason.
  const d: Decision = { emit: [], schedule: [], cancel: cancellations(e, rules) };
  if (e.environment === 'SANDBOX' && !rules.fireInSandbox) return d;
  for (const t of proposals(e, history, now, rules)) {
    if (capped(t.kind, history, now, rules)) continue;
    (t.dueAt > now ? d.schedule : d.emit).push(t);
  }
  return d;
}

/** The triggers the event's type and the enabled rules call for, before frequency caps. */
function proposals(
  e: SubscriptionEvent,
  history: TriggerHistory,
  now: number,
  rules: Rules,
): EngagementTrigger[] {
  const at = (kind: TriggerKind, context?: Context) => triggerOf(e, kind, now, context);
  switch (e.type) {
    case 'SUBSCRIPTION_STARTED':
      return rules.welcome.enabled
        ? [at('WELCOME', { resubscribe: String(e.isResubscribe), periodType: e.periodType })]
        : [];
    case 'RENEWED':
      return rules.renewalThanks.enabled ? [at('RENEWAL_THANKS', { expiresAt: iso(e.expiresAt) })] : [];
    case 'GRACE_PERIOD_STARTED':
      return rules.paymentFailed.enabled
        ? [
            at('PAYMENT_FAILED', {
              graceDeadline: iso(e.gracePeriodExpiresAt ?? e.expiresAt),
              inGracePeriod: 'true',
            }),
          ]
        : [];
    case 'BILLING_RETRY_STARTED':
      return [
        ...(rules.paymentFailed.enabled ? [at('PAYMENT_FAILED', { inGracePeriod: 'false' })] : []),
        ...(rules.accessLost.enabled ? [at('ACCESS_LOST', { cause: 'BILLING_RETRY' })] : []),
      ];
    case 'GRACE_PERIOD_ENDED':
    case 'REVOKED':
      return rules.accessLost.enabled ? [at('ACCESS_LOST', { cause: e.type })] : [];
    case 'AUTO_RENEW_DISABLED':
      return saveOffer(e, now, rules);
    case 'EXPIRED':
      return winbackOffer(e, now, rules);
    case 'PLAN_CHANGED':
    case 'PLAN_CHANGE_SCHEDULED':
      return rules.planChangeConfirmation.enabled
        ? [
            at('PLAN_CHANGE_CONFIRMATION', {
              fromProductId: e.planChange?.fromProductId,
              toProductId: e.planChange?.toProductId,
              timing: e.planChange?.timing,
            }),
          ]
        : [];
    case 'PRICE_INCREASE_PENDING':
      return priceIncreaseReminder(e, now, rules);
    case 'REFUND_REQUESTED':
      return refundResponseDue(e, now, rules);
    case 'REFUNDED':
      return refundAbuse(e, history, now, rules);
    default:
      return [];
  }
}

/** A save offer some time after auto-renew is turned off. */
function saveOffer(e: SubscriptionEvent, now: number, rules: Rules): EngagementTrigger[] {
  const r = rules.cancellationSaveOffer;
  if (!r.enabled) return [];
  const context = { expiresAt: iso(e.expiresAt), reason: e.reason };
  return [triggerOf(e, 'CANCELLATION_SAVE_OFFER', now + r.delaySeconds * 1000, context)];
}

/** A win-back offer some time after an expiry for one of the rule's reasons. */
function winbackOffer(e: SubscriptionEvent, now: number, rules: Rules): EngagementTrigger[] {
  const r = rules.winbackOffer;
  if (!r.enabled || !r.reasons.includes((e.reason ?? 'OTHER') as never)) return [];
  const context = { expiredAt: iso(e.occurredAt), reason: e.reason };
  return [triggerOf(e, 'WINBACK_OFFER', now + r.delaySeconds * 1000, context)];
}

/** The store's consent deadline is the next renewal: remind a set time before it. */
function priceIncreaseReminder(e: SubscriptionEvent, now: number, rules: Rules): EngagementTrigger[] {
  const deadline = e.expiresAt;
  const r = rules.priceIncreaseConsentReminder;
  if (!r.enabled || deadline === null || deadline <= now) return [];
  const due = Math.max(now, deadline - r.secondsBeforeDeadline * 1000);
  return [triggerOf(e, 'PRICE_INCREASE_CONSENT_REMINDER', due, { deadline: iso(deadline) })];
}

/** Each store gives a deadline to answer a refund request (Apple's consumption request, Google's review). */
function refundResponseDue(e: SubscriptionEvent, now: number, rules: Rules): EngagementTrigger[] {
  const r = rules.refundRequestResponseDue;
  if (!r.enabled) return [];
  const secs = e.store === 'PLAY_STORE' ? r.googleDeadlineSeconds : r.appleDeadlineSeconds;
  const context = {
    respondBy: iso(e.occurredAt + secs * 1000),
    reason: e.reason,
    transactionId: e.transactionId,
  };
  return [triggerOf(e, 'REFUND_REQUEST_RESPONSE_DUE', now, context)];
}

/** A quick refund of a long period, or a user refunding often. */
function refundAbuse(
  e: SubscriptionEvent,
  history: TriggerHistory,
  now: number,
  rules: Rules,
): EngagementTrigger[] {
  const r = rules.refundAbuseSuspected;
  if (!r.enabled) return [];
  const daysToRefund = e.purchasedAt !== null ? (e.occurredAt - e.purchasedAt) / DAY_MS : null;
  const periodDays =
    e.purchasedAt !== null && e.expiresAt !== null ? (e.expiresAt - e.purchasedAt) / DAY_MS : null;
  const quick =
    daysToRefund !== null &&
    periodDays !== null &&
    daysToRefund <= r.maxDaysFromPurchase &&
    periodDays >= r.minPeriodDays;
  const serial = e.appUserId !== null && history.userRefunds >= r.maxRefundsPerUser;
  if (!quick && !serial) return [];
  const signals = [...(quick ? ['QUICK_REFUND_OF_LONG_PERIOD'] : []), ...(serial ? ['SERIAL_REFUNDER'] : [])];
  const context = {
    daysFromPurchaseToRefund: daysToRefund === null ? null : daysToRefund.toFixed(2),
    periodDays: periodDays === null ? null : periodDays.toFixed(0),
    userRefundsInWindow: history.userRefunds,
    signal: signals.join(','),
    price: e.price ? `${e.price.amountMicros / 1_000_000} ${e.price.currency}` : null,
  };
  return [triggerOf(e, 'REFUND_ABUSE_SUSPECTED', now, context)];
}
