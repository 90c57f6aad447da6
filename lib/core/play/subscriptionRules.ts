/**
 * One rule per Google subscription notification type: given the stored and the fetched
 * `subscriptionsv2` resource, the drafts of what changed. The type code is a hint; the resources decide,
 * so a duplicate or late notification that changes nothing yields nothing.
 * https://developer.android.com/google/play/billing/rtdn-reference#sub
 */
import type { EventType, SubscriptionEvent } from '../generated/avro';
import { RECONCILIATION_TYPE, type PlaySnapshot, type SubscriptionPurchaseV2 } from './model';
import { planChangeOf, plansOf, samePlans } from './plans';

export type Draft = { type: EventType } & Partial<Omit<SubscriptionEvent, 'type' | 'source' | 'eventId'>>;

export interface RuleInput {
  prev: SubscriptionPurchaseV2 | undefined;
  cur: SubscriptionPurchaseV2;
  /** Snapshot of the token `cur` replaced (its linkedPurchaseToken), when known. */
  linked?: PlaySnapshot;
}

type Rule = (i: RuleInput) => Draft[];

export const stateOf = (s: SubscriptionPurchaseV2 | undefined | null) =>
  (s?.subscriptionState ?? '').replace('SUBSCRIPTION_STATE_', '');

export function maxExpiry(s: SubscriptionPurchaseV2 | undefined | null): number | null {
  const times = (s?.lineItems ?? [])
    .map((l) => (l.expiryTime ? Date.parse(l.expiryTime) : NaN))
    .filter((t) => !Number.isNaN(t));
  return times.length ? Math.max(...times) : null;
}

export function autoRenewOf(s: SubscriptionPurchaseV2 | undefined | null): boolean | null {
  const plans = (s?.lineItems ?? []).filter((l) => l.autoRenewingPlan);
  if (plans.length === 0) return null;
  return plans.some((l) => l.autoRenewingPlan?.autoRenewEnabled === true);
}

export function latestOrder(s: SubscriptionPurchaseV2 | undefined | null): string | null {
  return (
    s?.lineItems?.find((l) => l.latestSuccessfulOrderId)?.latestSuccessfulOrderId ?? s?.latestOrderId ?? null
  );
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

/**
 * Why a subscription ended, from who cancelled it. `absent` is the reason when Google names nobody: a
 * subscription found EXPIRED after grace or account hold (code 3) ended for billing; code 13 says OTHER.
 */
function expiryReason(
  s: SubscriptionPurchaseV2,
  absent: 'BILLING_ERROR' | 'OTHER',
): 'VOLUNTARY' | 'BILLING_ERROR' | 'OTHER' {
  const c = s.canceledStateContext;
  if (c?.userInitiatedCancellation) return 'VOLUNTARY';
  if (c?.systemInitiatedCancellation) return 'BILLING_ERROR';
  if (c?.developerInitiatedCancellation) return 'OTHER';
  return absent;
}

function autoRenewOffReason(s: SubscriptionPurchaseV2): string | null {
  const c = s.canceledStateContext;
  const survey = c?.userInitiatedCancellation?.cancelSurveyResult?.reason;
  if (survey) return survey.replace('CANCEL_SURVEY_REASON_', '');
  if (c?.systemInitiatedCancellation) return 'SYSTEM';
  if (c?.developerInitiatedCancellation) return 'DEVELOPER';
  return null;
}

const recovered: Rule = ({ prev, cur }) => {
  const was = stateOf(prev);
  if (stateOf(cur) !== 'ACTIVE' || was === 'ACTIVE' || was === 'CANCELED') return [];
  return was === 'PAUSED' ? [{ type: 'RESUMED' }] : [{ type: 'BILLING_RECOVERED' }];
};

/** Google reports recovery from grace or account hold as a renewal. */
const renewed: Rule = ({ prev, cur }) => {
  if (!prev) return [{ type: 'RENEWED' }];
  const newOrder = latestOrder(cur) !== null && latestOrder(cur) !== latestOrder(prev);
  if (!newOrder && (maxExpiry(cur) ?? 0) <= (maxExpiry(prev) ?? 0)) return [];
  const was = stateOf(prev);
  return was === 'IN_GRACE_PERIOD' || was === 'ON_HOLD'
    ? [{ type: 'BILLING_RECOVERED' }]
    : [{ type: 'RENEWED' }];
};

const canceled: Rule = ({ prev, cur }) => {
  if (cur.canceledStateContext?.replacementCancellation) return []; // old token of a plan change
  if (stateOf(cur) === 'EXPIRED' && stateOf(prev) !== 'EXPIRED') {
    return [{ type: 'EXPIRED', reason: expiryReason(cur, 'BILLING_ERROR') }];
  }
  if (autoRenewOf(cur) === false && autoRenewOf(prev) !== false) {
    return [{ type: 'AUTO_RENEW_DISABLED', reason: autoRenewOffReason(cur) }];
  }
  return [];
};

/**
 * A new token linked to an old one is a plan change when the product or the base plan differs, and a
 * resubscribe when both are the same (docs/canonical-events.md, code 4).
 */
const purchased: Rule = ({ prev, cur, linked }) => {
  const was = stateOf(prev);
  if (stateOf(cur) === 'PENDING') return was === 'PENDING' ? [] : [{ type: 'PURCHASE_PENDING' }];
  if (prev && was !== 'PENDING') return []; // already known: a duplicate or late PURCHASED
  if (!cur.linkedPurchaseToken) return [{ type: 'SUBSCRIPTION_STARTED' }];
  const from = linked ? plansOf(linked.resource) : null;
  const to = plansOf(cur);
  if (from && from.products && !samePlans(from, to)) {
    return [{ type: 'PLAN_CHANGED', planChange: planChangeOf(from, to) }];
  }
  return [{ type: 'SUBSCRIPTION_STARTED', isResubscribe: true }];
};

const whenEntering =
  (state: string, draft: Draft): Rule =>
  ({ prev, cur }) =>
    stateOf(cur) === state && stateOf(prev) !== state ? [draft] : [];

const restarted: Rule = ({ prev, cur }) =>
  autoRenewOf(cur) === true && autoRenewOf(prev) !== true ? [{ type: 'AUTO_RENEW_ENABLED' }] : [];

const priceChanged: Rule = ({ prev, cur }) => {
  if (prev && priceChangeState(prev) === priceChangeState(cur)) return [];
  const d = priceDraft(cur);
  return d ? [d] : [];
};

const deferred: Rule = ({ prev, cur }) =>
  !prev || (maxExpiry(cur) ?? 0) > (maxExpiry(prev) ?? 0) ? [{ type: 'RENEWAL_EXTENDED' }] : [];

const revoked: Rule = ({ prev }) =>
  stateOf(prev) === 'EXPIRED' && prev?.canceledStateContext?.developerInitiatedCancellation
    ? []
    : [{ type: 'REVOKED', status: 'REVOKED', entitled: false }];

const expired: Rule = ({ prev, cur }) =>
  stateOf(prev) === 'EXPIRED' ? [] : [{ type: 'EXPIRED', reason: expiryReason(cur, 'OTHER') }];

/** Add-ons added, removed or replaced, or a base plan changed in place. */
const itemsChanged: Rule = ({ prev, cur }) => {
  const from = prev ? plansOf(prev) : null;
  const to = plansOf(cur);
  if (from && samePlans(from, to)) return [];
  return [{ type: 'PLAN_CHANGED', planChange: planChangeOf(from, to) }];
};

const cancellationScheduled: Rule = ({ prev, cur }) => {
  const pending = (s?: SubscriptionPurchaseV2) =>
    Boolean(s?.lineItems?.some((l) => l.autoRenewingPlan?.installmentDetails?.pendingCancellation));
  return pending(cur) && !pending(prev)
    ? [{ type: 'AUTO_RENEW_DISABLED', reason: 'CANCELLATION_SCHEDULED' }]
    : [];
};

const pendingCanceled: Rule = ({ prev }) =>
  stateOf(prev) === 'PENDING_PURCHASE_CANCELED' ? [] : [{ type: 'PENDING_PURCHASE_CANCELED' }];

const onHold = whenEntering('ON_HOLD', { type: 'BILLING_RETRY_STARTED', reason: 'BILLING_ERROR' });
const inGrace = whenEntering('IN_GRACE_PERIOD', { type: 'GRACE_PERIOD_STARTED', reason: 'BILLING_ERROR' });
const paused = whenEntering('PAUSED', { type: 'PAUSED' });

/** Reconciliation: the subscription ended (not by a plan change); billing when it was in grace or on hold. */
const ended: Rule = ({ prev, cur }) => {
  if (stateOf(cur) !== 'EXPIRED' || stateOf(prev) === 'EXPIRED') return [];
  if (cur.canceledStateContext?.replacementCancellation) return [];
  const was = stateOf(prev);
  const billing = was === 'IN_GRACE_PERIOD' || was === 'ON_HOLD';
  return [{ type: 'EXPIRED', reason: expiryReason(cur, billing ? 'BILLING_ERROR' : 'OTHER') }];
};

/** Reconciliation: auto-renew flipped (an ended subscription's auto-renew says nothing new). */
const autoRenewFlipped: Rule = (i) => {
  if (stateOf(i.cur) === 'EXPIRED') return [];
  if (autoRenewOf(i.cur) === false && autoRenewOf(i.prev) !== false)
    return [{ type: 'AUTO_RENEW_DISABLED', reason: autoRenewOffReason(i.cur) }];
  return i.prev ? restarted(i) : [];
};

/**
 * Reconciliation: a new order is a renewal (or a recovery, rule 2); a later expiry without one, in an unchanged
 * active state, a deferral (rule 9). Entering grace also moves the expiry: that is not an extension.
 */
const periodMoved: Rule = (i) => {
  const { prev, cur } = i;
  if (!prev) return [];
  if (latestOrder(cur) !== null && latestOrder(cur) !== latestOrder(prev)) return renewed(i);
  const same = stateOf(cur) === stateOf(prev) && (stateOf(cur) === 'ACTIVE' || stateOf(cur) === 'CANCELED');
  return same ? deferred(i) : [];
};

const STATE_ENTRIES: Rule[] = [
  onHold,
  inGrace,
  paused,
  whenEntering('PENDING_PURCHASE_CANCELED', { type: 'PENDING_PURCHASE_CANCELED' }),
  ended,
];
/** A start (first sight, or a pending purchase completed): what the start does not say by itself. */
const ON_START: Rule[] = [...STATE_ENTRIES, autoRenewFlipped];
const ON_CHANGE: Rule[] = [
  itemsChanged,
  periodMoved,
  recovered,
  priceChanged,
  autoRenewFlipped,
  cancellationScheduled,
  ...STATE_ENTRIES,
];

/**
 * The reconciliation code (RECONCILIATION_TYPE) carries no hint: the rules the difference between the stored
 * and the fetched resource implies, concatenated, one draft per event type. Identical resources: nothing.
 */
const reconciled: Rule = (i) => {
  const started = stateOf(i.cur) === 'PENDING_PURCHASE_CANCELED' ? [] : purchased(i);
  const rules = started.length > 0 || !i.prev ? ON_START : ON_CHANGE;
  const seen = new Set<string>();
  return [...started, ...rules.flatMap((r) => r(i))].filter((d) => !seen.has(d.type) && seen.add(d.type));
};

const RULES: Record<number, Rule> = {
  [RECONCILIATION_TYPE]: reconciled,
  1: recovered,
  2: renewed,
  3: canceled,
  4: purchased,
  5: onHold,
  6: inGrace,
  7: restarted,
  8: priceChanged,
  9: deferred,
  10: paused,
  11: ({ cur }) => (stateOf(cur) === 'PAUSED' ? [] : [{ type: 'PAUSE_SCHEDULED' }]),
  12: revoked,
  13: expired,
  17: itemsChanged,
  18: cancellationScheduled,
  19: priceChanged,
  20: pendingCanceled,
  22: priceChanged,
};

/** The drafts for one subscription notification; a type code this version does not know is UNKNOWN. */
export function subscriptionDrafts(type: number, input: RuleInput): Draft[] {
  const rule = RULES[type];
  return rule ? rule(input) : [{ type: 'UNKNOWN' }];
}
