/**
 * `storeline reconcile play-store`, the pure part: whether Storeline's snapshot of a subscription differs from
 * Google's `subscriptionsv2` resource (the reconciliation rule of lib/core/play/subscriptionRules.ts, the one
 * the normalizer applies), what differs in words, and the raw record asking the normalizer to catch up: a
 * Pub/Sub push envelope around a subscription notification of type RECONCILIATION_TYPE, with the Play
 * receiver's key and headers plus the reconcile header. The normalizer fetches, diffs and stores it like any
 * subscription notification; its messageId `reconcile:<token>:<ms>` differs per run, so a later
 * reconciliation is never taken for a duplicate.
 */
import { RAW_HEADERS } from '../rawHeaders';
import { syntheticPush, type SyntheticPush } from './syntheticPush';
import {
  RECONCILIATION_TYPE,
  type DeveloperNotification,
  type PlaySnapshot,
  type SubscriptionPurchaseV2,
} from './model';
import { autoRenewOf, maxExpiry, stateOf, subscriptionDrafts, type Draft } from './subscriptionRules';

const RECONCILE_SOURCE = 'play-store:subscriptionsv2';

export type ReconcileRecord = SyntheticPush;

/** The drafts the normalizer will derive for this token: empty when the snapshot matches Google. */
export function reconcileDrafts(
  previous: PlaySnapshot | undefined,
  cur: SubscriptionPurchaseV2,
  linked?: PlaySnapshot,
): Draft[] {
  if (previous?.replacedBy) return []; // the normalizer never lets a replaced token change anything
  return subscriptionDrafts(RECONCILIATION_TYPE, { prev: previous?.resource, cur, linked });
}

const iso = (t: number | null) => (t === null ? '-' : new Date(t).toISOString());

/** What differs between the stored and the fetched resource, as `field before -> after` (status, expiry, …). */
export function differences(prev: SubscriptionPurchaseV2 | undefined, cur: SubscriptionPurchaseV2): string[] {
  const fields: [string, (s: SubscriptionPurchaseV2 | undefined) => string][] = [
    ['status', (s) => (s ? stateOf(s) || '-' : 'unknown')],
    ['expiry', (s) => iso(maxExpiry(s))],
    ['autoRenew', (s) => String(autoRenewOf(s) ?? '-')],
    ['product', (s) => (s?.lineItems ?? []).map((l) => l.productId ?? '?').join('+') || '-'],
  ];
  return fields.flatMap(([name, of]) => {
    const [a, b] = [of(prev), of(cur)];
    return a === b ? [] : [`${name} ${a} -> ${b}`];
  });
}

export function reconcileRecord(
  token: string,
  packageName: string,
  opts: { now: number; requestId: string },
): ReconcileRecord {
  const n: DeveloperNotification = {
    version: '1.0',
    packageName,
    eventTimeMillis: String(opts.now),
    subscriptionNotification: { version: '1.0', notificationType: RECONCILIATION_TYPE, purchaseToken: token },
  };
  return syntheticPush(n, `reconcile:${token}:${opts.now}`, {
    receivedAt: opts.now,
    requestId: opts.requestId,
    subscription: 'storeline-reconcile',
    origin: [RAW_HEADERS.reconcile, RECONCILE_SOURCE],
  });
}
