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
import { rawKeyOf } from './envelope';
import {
  RECONCILIATION_TYPE,
  type DeveloperNotification,
  type PlaySnapshot,
  type PubSubPushEnvelope,
  type SubscriptionPurchaseV2,
} from './model';
import { autoRenewOf, maxExpiry, stateOf, subscriptionDrafts, type Draft } from './subscriptionRules';

const RECONCILE_SOURCE = 'play-store:subscriptionsv2';

export interface ReconcileRecord {
  messageId: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

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
  const messageId = `reconcile:${token}:${opts.now}`;
  const publishTime = new Date(opts.now).toISOString();
  const envelope: PubSubPushEnvelope = {
    message: { data: Buffer.from(JSON.stringify(n)).toString('base64'), messageId, publishTime },
    subscription: 'storeline-reconcile',
  };
  return {
    messageId,
    key: rawKeyOf(n, messageId),
    value: Buffer.from(JSON.stringify(envelope)),
    headers: {
      [RAW_HEADERS.format]: 'play-store-pubsub',
      [RAW_HEADERS.receivedAt]: String(opts.now),
      [RAW_HEADERS.requestId]: opts.requestId,
      [RAW_HEADERS.notificationId]: messageId,
      'message-id': messageId,
      'publish-time': publishTime,
      [RAW_HEADERS.reconcile]: RECONCILE_SOURCE,
    },
  };
}
