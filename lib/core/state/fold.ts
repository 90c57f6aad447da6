/**
 * Subscription state as a pure fold: (state | undefined, event) -> state.
 *
 * Order safety: store time orders, arrival does not (docs/canonical-events.md, rule 5). Every piece of the
 * state is a commutative, associative function of the set of events applied:
 *  - the "view" (status, entitlement, product, expiry, auto-renew, period type) comes from the event with the
 *    greatest version key (occurredAt, eventId) among events that carry a known status, so a late older event
 *    never rolls the view back;
 *  - productId, expiresAt and appUserId come from the newest event that has one (events without a product,
 *    such as an account-level notice, do not blank it);
 *  - counters count distinct events (the caller applies each eventId once), first purchase is a minimum,
 *    trial conversion compares the earliest TRIAL period with the latest paid renewal.
 * Hence any permutation (and, with dedupe by eventId, duplication) of a history folds to the same state.
 */
import type { EventType, StateStatus, SubscriptionEvent, SubscriptionState } from '../generated/avro';

/** Version key of an event: store time, then eventId to break ties deterministically. */
type VersionKey = readonly [occurredAt: number, eventId: string];

function newer(a: VersionKey, b: VersionKey | null | undefined): boolean {
  if (!b) return true;
  return a[0] !== b[0] ? a[0] > b[0] : a[1] > b[1];
}

/** State plus the bookkeeping that makes the fold order-independent (kept in the database, not on Kafka). */
export interface FoldState {
  state: SubscriptionState;
  versions: {
    view: VersionKey | null;
    last: VersionKey;
    productId: VersionKey | null;
    expiresAt: VersionKey | null;
    appUserId: VersionKey | null;
  };
  /** Earliest occurredAt of an event in a TRIAL period. */
  firstTrialAt: number | null;
  /** Latest occurredAt of a paid RENEWED (period other than TRIAL). */
  lastPaidRenewalAt: number | null;
}

const RENEWALS: ReadonlySet<EventType> = new Set(['RENEWED', 'BILLING_RECOVERED']);

/** Storeline's status: the store's status refined by period type (TRIAL) and refunds (REFUNDED). */
function stateStatus(e: SubscriptionEvent): StateStatus {
  if (e.type === 'REFUNDED' && !e.entitled) return 'REFUNDED';
  if (e.status === 'ACTIVE' && e.periodType === 'TRIAL') return 'TRIAL';
  return e.status;
}

function minNullable(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

export function fold(prev: FoldState | undefined, e: SubscriptionEvent, now: number): FoldState {
  const key: VersionKey = [e.occurredAt, e.eventId];
  const base: FoldState = prev ?? {
    state: {
      subscriptionKey: e.subscriptionKey,
      store: e.store,
      environment: e.environment,
      appId: e.appId,
      appUserId: null,
      status: 'UNKNOWN',
      entitled: false,
      autoRenew: null,
      productId: null,
      nextProductId: null,
      expiresAt: null,
      gracePeriodExpiresAt: null,
      periodType: null,
      firstPurchasedAt: null,
      renewalCount: 0,
      trialConverted: false,
      refundCount: 0,
      lastEventId: e.eventId,
      lastEventType: e.type,
      lastEventAt: e.occurredAt,
      updatedAt: now,
    },
    versions: { view: null, last: key, productId: null, expiresAt: null, appUserId: null },
    firstTrialAt: null,
    lastPaidRenewalAt: null,
  };
  const s = { ...base.state };
  const v = { ...base.versions };

  if (e.status !== 'UNKNOWN' && newer(key, v.view)) {
    v.view = key;
    s.status = stateStatus(e);
    s.entitled = e.entitled;
    s.autoRenew = e.autoRenew;
    s.nextProductId = e.nextProductId;
    s.gracePeriodExpiresAt = e.gracePeriodExpiresAt;
    s.periodType = e.periodType;
    s.environment = e.environment;
  }
  if (e.productId !== null && newer(key, v.productId)) {
    v.productId = key;
    s.productId = e.productId;
  }
  if (e.expiresAt !== null && newer(key, v.expiresAt)) {
    v.expiresAt = key;
    s.expiresAt = e.expiresAt;
  }
  if (e.appUserId !== null && newer(key, v.appUserId)) {
    v.appUserId = key;
    s.appUserId = e.appUserId;
  }
  if (!prev || newer(key, v.last)) {
    v.last = key;
    s.lastEventId = e.eventId;
    s.lastEventType = e.type;
    s.lastEventAt = e.occurredAt;
  }
  if (RENEWALS.has(e.type)) s.renewalCount += 1;
  if (e.type === 'REFUNDED') s.refundCount += 1;
  s.firstPurchasedAt = minNullable(s.firstPurchasedAt, e.originalPurchasedAt ?? e.purchasedAt);

  const firstTrialAt =
    e.periodType === 'TRIAL' ? minNullable(base.firstTrialAt, e.occurredAt) : base.firstTrialAt;
  const lastPaidRenewalAt =
    e.type === 'RENEWED' && e.periodType !== 'TRIAL'
      ? Math.max(base.lastPaidRenewalAt ?? e.occurredAt, e.occurredAt)
      : base.lastPaidRenewalAt;
  s.trialConverted = firstTrialAt !== null && lastPaidRenewalAt !== null && lastPaidRenewalAt > firstTrialAt;
  s.updatedAt = Math.max(base.state.updatedAt, now);

  return { state: s, versions: v, firstTrialAt, lastPaidRenewalAt };
}

/** Folds events in the given order, applying each eventId once (as the database's applied set does). */
export function foldAll(events: SubscriptionEvent[], now: number, init?: FoldState): FoldState | undefined {
  const seen = new Set<string>();
  let st = init;
  for (const e of events) {
    if (seen.has(e.eventId)) continue;
    seen.add(e.eventId);
    st = fold(st, e, now);
  }
  return st;
}

/** Whether the user should have access at `now`: entitled by the store's view and not past expiry or grace. */
export function entitledAt(s: SubscriptionState, now: number): boolean {
  if (!s.entitled) return false;
  if (s.status === 'GRACE_PERIOD') return s.gracePeriodExpiresAt === null || s.gracePeriodExpiresAt > now;
  return s.expiresAt === null || s.expiresAt > now;
}
