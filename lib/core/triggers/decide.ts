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

export function decide(e: SubscriptionEvent, history: TriggerHistory, now: number, rules: Rules): Decision {
  // Cancellations apply even when the event fires nothing (sandbox): a pending trigger must not outlive its reason.
  const d: Decision = { emit: [], schedule: [], cancel: cancellations(e, rules) };
  if (e.environment === 'SANDBOX' && !rules.fireInSandbox) return d;

  const make = (
    kind: TriggerKind,
    dueAt: number,
    context: Record<string, string | number | null | undefined> = {},
  ): EngagementTrigger => ({
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
  });
  const capped = (kind: TriggerKind) => {
    const cap = rules.frequencyCaps[kind];
    if (!cap) return false;
    return (
      history.recent.filter((r) => r.kind === kind && r.at > now - cap.windowSeconds * 1000).length >= cap.max
    );
  };
  const fire = (t: EngagementTrigger) => {
    if (capped(t.kind)) return;
    (t.dueAt > now ? d.schedule : d.emit).push(t);
  };
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

  switch (e.type) {
    case 'SUBSCRIPTION_STARTED':
      if (rules.welcome.enabled)
        fire(make('WELCOME', now, { resubscribe: String(e.isResubscribe), periodType: e.periodType }));
      break;
    case 'RENEWED':
      if (rules.renewalThanks.enabled) fire(make('RENEWAL_THANKS', now, { expiresAt: iso(e.expiresAt) }));
      break;
    case 'GRACE_PERIOD_STARTED':
      if (rules.paymentFailed.enabled)
        fire(
          make('PAYMENT_FAILED', now, {
            graceDeadline: iso(e.gracePeriodExpiresAt ?? e.expiresAt),
            inGracePeriod: 'true',
          }),
        );
      break;
    case 'BILLING_RETRY_STARTED':
      if (rules.paymentFailed.enabled) fire(make('PAYMENT_FAILED', now, { inGracePeriod: 'false' }));
      if (rules.accessLost.enabled) fire(make('ACCESS_LOST', now, { cause: 'BILLING_RETRY' }));
      break;
    case 'GRACE_PERIOD_ENDED':
    case 'REVOKED':
      if (rules.accessLost.enabled) fire(make('ACCESS_LOST', now, { cause: e.type }));
      break;
    case 'AUTO_RENEW_DISABLED':
      if (rules.cancellationSaveOffer.enabled) {
        fire(
          make('CANCELLATION_SAVE_OFFER', now + rules.cancellationSaveOffer.delaySeconds * 1000, {
            expiresAt: iso(e.expiresAt),
            reason: e.reason,
          }),
        );
      }
      break;
    case 'EXPIRED':
      if (rules.winbackOffer.enabled && rules.winbackOffer.reasons.includes((e.reason ?? 'OTHER') as never)) {
        fire(
          make('WINBACK_OFFER', now + rules.winbackOffer.delaySeconds * 1000, {
            expiredAt: iso(e.occurredAt),
            reason: e.reason,
          }),
        );
      }
      break;
    case 'PLAN_CHANGED':
    case 'PLAN_CHANGE_SCHEDULED':
      if (rules.planChangeConfirmation.enabled) {
        fire(
          make('PLAN_CHANGE_CONFIRMATION', now, {
            fromProductId: e.planChange?.fromProductId,
            toProductId: e.planChange?.toProductId,
            timing: e.planChange?.timing,
          }),
        );
      }
      break;
    case 'PRICE_INCREASE_PENDING': {
      // The store's consent deadline is the next renewal: remind a set time before it.
      const deadline = e.expiresAt;
      if (rules.priceIncreaseConsentReminder.enabled && deadline !== null) {
        const due = Math.max(now, deadline - rules.priceIncreaseConsentReminder.secondsBeforeDeadline * 1000);
        if (deadline > now) fire(make('PRICE_INCREASE_CONSENT_REMINDER', due, { deadline: iso(deadline) }));
      }
      break;
    }
    case 'REFUND_REQUESTED': {
      const r = rules.refundRequestResponseDue;
      if (r.enabled) {
        const secs = e.store === 'PLAY_STORE' ? r.googleDeadlineSeconds : r.appleDeadlineSeconds;
        fire(
          make('REFUND_REQUEST_RESPONSE_DUE', now, {
            respondBy: iso(e.occurredAt + secs * 1000),
            reason: e.reason,
            transactionId: e.transactionId,
          }),
        );
      }
      break;
    }
    case 'REFUNDED': {
      const r = rules.refundAbuseSuspected;
      if (!r.enabled) break;
      const daysToRefund = e.purchasedAt !== null ? (e.occurredAt - e.purchasedAt) / DAY_MS : null;
      const periodDays =
        e.purchasedAt !== null && e.expiresAt !== null ? (e.expiresAt - e.purchasedAt) / DAY_MS : null;
      const quick =
        daysToRefund !== null &&
        periodDays !== null &&
        daysToRefund <= r.maxDaysFromPurchase &&
        periodDays >= r.minPeriodDays;
      const serial = e.appUserId !== null && history.userRefunds >= r.maxRefundsPerUser;
      if (quick || serial) {
        fire(
          make('REFUND_ABUSE_SUSPECTED', now, {
            daysFromPurchaseToRefund: daysToRefund === null ? null : daysToRefund.toFixed(2),
            periodDays: periodDays === null ? null : periodDays.toFixed(0),
            userRefundsInWindow: history.userRefunds,
            signal:
              quick && serial
                ? 'QUICK_REFUND_OF_LONG_PERIOD,SERIAL_REFUNDER'
                : quick
                  ? 'QUICK_REFUND_OF_LONG_PERIOD'
                  : 'SERIAL_REFUNDER',
            price: e.price ? `${e.price.amountMicros / 1_000_000} ${e.price.currency}` : null,
          }),
        );
      }
      break;
    }
    default:
      break;
  }
  return d;
}
