/**
 * Reconciliation of App Store subscriptions against Get All Subscription Statuses: Storeline's view from
 * the state aggregator's tables, Apple's from the API (its signed infos verified with the AppleVerifier, as
 * the receiver verifies a push), the difference by the pure rules of lib/core/app-store/reconcile.ts. When
 * something differs, ONE raw record of format `app-store-status` goes to the raw App Store topic (key the
 * originalTransactionId, as the receiver keys); the normalizer, the one writer of canonical events, makes
 * the events from it and claims the reconciliation id so a redelivered record emits once.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { FoldState } from '../../core/state/fold';
import {
  differences,
  reconcileDrafts,
  type AppleTruth,
  type Difference,
  type StorelineView,
} from '../../core/app-store/reconcile';
import type { RenewalInfo, TransactionInfo } from '../../core/app-store/model';
import { NotificationRejected, type AppleVerifier } from '../../core/app-store/verify';
import { errorMessage } from '../../core/errors';
import type { AppStoreStatusBody } from '../../core/ingest/appStore';
import { APP_STORE_STATUS_FORMAT } from '../../core/ingest/format';
import { RAW_HEADERS } from '../../core/rawHeaders';
import type { Publish } from '../../platform/publisher';
import { AppStoreApiError, type SubscriptionStatuses } from './serverApi';

const KEY_PREFIX = 'app_store:';
const RECONCILE_SOURCE = 'app-store:subscription-statuses';
/** States in which Apple may have moved on without Storeline hearing (--all-active). */
const LIVE = ['ACTIVE', 'TRIAL', 'GRACE_PERIOD', 'BILLING_RETRY'];

/** The originalTransactionId of an `app_store:<id>` key; undefined for any other key. */
export function originalTransactionIdOf(key: string): string | undefined {
  const id = key.startsWith(KEY_PREFIX) ? key.slice(KEY_PREFIX.length) : '';
  return /^[0-9A-Za-z._-]+$/.test(id) && !id.startsWith('app:') ? id : undefined;
}

/** Storeline's view of one subscription, undefined when the state tables do not have it. */
export async function storelineView(
  pool: Pool,
  key: string,
): Promise<(StorelineView & { subscriptionKey: string }) | undefined> {
  const r = await pool.query<{ fold: FoldState }>(
    'SELECT fold FROM subscription_state WHERE subscription_key = $1',
    [key],
  );
  const s = r.rows[0]?.fold.state;
  if (!s) return undefined;
  return {
    subscriptionKey: key,
    status: s.status,
    autoRenew: s.autoRenew,
    productId: s.productId,
    expiresAt: s.expiresAt,
    lastEventId: s.lastEventId,
    lastEventAt: s.lastEventAt,
  };
}

/** App Store subscriptions Storeline holds live (active, trial, grace, billing retry) last heard of before `before`. */
export async function liveSubscriptionKeys(pool: Pool, before: number): Promise<string[]> {
  const r = await pool.query<{ subscription_key: string }>(
    `SELECT subscription_key FROM subscription_state
      WHERE subscription_key LIKE 'app\\_store:%' AND subscription_key NOT LIKE 'app\\_store:app:%'
        AND fold->'state'->>'status' = ANY($1) AND (fold->'state'->>'lastEventAt')::bigint < $2
      ORDER BY subscription_key`,
    [LIVE, before],
  );
  return r.rows.map((x) => x.subscription_key);
}

export interface ReconcileDeps {
  statuses: (transactionId: string) => Promise<SubscriptionStatuses>;
  verifier: AppleVerifier;
  bundleId: string;
  /** Apple's environment name the verified infos must carry (Production or Sandbox). */
  environment: string;
  publish: Publish;
  rawTopic: string;
  now: () => number;
  newId?: () => string;
}

export type ReconcileOutcome =
  | { key: string; result: 'matches' }
  | { key: string; result: 'published'; id: string; differences: Difference[] }
  /** Apple's view differs in a way no canonical transition expresses (e.g. an earlier expiry): reported only. */
  | { key: string; result: 'unexplained'; differences: Difference[] }
  | { key: string; result: 'failed'; message: string };

/** Thrown for a subscription that cannot be compared (not in Storeline, not at Apple, not authentic). */
class NotComparable extends Error {}

/**
 * One subscription: `failed` when this subscription cannot be compared (Apple does not know it, its signed
 * infos are not authentic or not this app's); throws what would fail every subscription (credentials,
 * Apple unreachable or overloaded past the retries, Kafka), so the run stops there.
 */
export async function reconcileSubscription(
  deps: ReconcileDeps,
  view: StorelineView & { subscriptionKey: string },
): Promise<ReconcileOutcome> {
  try {
    return await compareAndPublish(deps, view);
  } catch (err) {
    const perSubscription =
      err instanceof NotComparable ||
      err instanceof NotificationRejected ||
      (err instanceof AppStoreApiError && err.status !== undefined && [400, 404].includes(err.status));
    if (!perSubscription) throw err;
    const api = err instanceof AppStoreApiError ? 'App Store Server API: ' : '';
    return { key: view.subscriptionKey, result: 'failed', message: `${api}${errorMessage(err)}` };
  }
}

async function compareAndPublish(
  deps: ReconcileDeps,
  view: StorelineView & { subscriptionKey: string },
): Promise<ReconcileOutcome> {
  const key = view.subscriptionKey;
  const otid = originalTransactionIdOf(key);
  if (otid === undefined) return { key, result: 'failed', message: 'not an App Store subscription key' };
  const answer = await deps.statuses(otid);
  let found: { group: string; item: AppStoreStatusBody['lastTransaction'] } | undefined;
  for (const g of answer.data)
    for (const item of g.lastTransactions)
      if (item.originalTransactionId === otid) found = { group: g.subscriptionGroupIdentifier, item };
  if (!found) throw new NotComparable('Apple lists no subscription with this originalTransactionId');
  const now = deps.now();
  const truth = verifiedTruth(found.item, deps, now);
  const drafts = reconcileDrafts(view, truth);
  const diffs = differences(view, truth);
  if (drafts.length === 0)
    return diffs.length === 0
      ? { key, result: 'matches' }
      : { key, result: 'unexplained', differences: diffs };
  const id = (deps.newId ?? randomUUID)();
  const body: AppStoreStatusBody = {
    reconciliationId: id,
    comparedAt: now,
    environment: answer.environment,
    bundleId: answer.bundleId,
    appAppleId: answer.appAppleId,
    subscriptionGroupIdentifier: found.group,
    lastTransaction: found.item,
    storeline: view,
  };
  await deps.publish({
    topic: deps.rawTopic,
    key: otid,
    value: Buffer.from(JSON.stringify(body)),
    headers: {
      [RAW_HEADERS.format]: APP_STORE_STATUS_FORMAT,
      [RAW_HEADERS.receivedAt]: String(now),
      [RAW_HEADERS.requestId]: randomUUID(),
      [RAW_HEADERS.environment]: answer.environment ?? truth.transaction.environment ?? 'unknown',
      [RAW_HEADERS.notificationId]: id,
      [RAW_HEADERS.reconcile]: RECONCILE_SOURCE,
    },
  });
  return { key, result: 'published', id, differences: diffs };
}

/** Both signed infos verified against the trusted roots, and for this app and environment. */
function verifiedTruth(
  item: AppStoreStatusBody['lastTransaction'],
  deps: ReconcileDeps,
  now: number,
): AppleTruth {
  const transaction = deps.verifier.verifyJws(item.signedTransactionInfo, now) as TransactionInfo;
  const renewal =
    item.signedRenewalInfo === undefined
      ? undefined
      : (deps.verifier.verifyJws(item.signedRenewalInfo, now) as RenewalInfo);
  if (transaction.bundleId !== deps.bundleId)
    throw new NotComparable(`signedTransactionInfo is for bundle ${JSON.stringify(transaction.bundleId)}`);
  if (transaction.environment !== deps.environment)
    throw new NotComparable(
      `signedTransactionInfo is for environment ${JSON.stringify(transaction.environment)}`,
    );
  if (transaction.originalTransactionId !== item.originalTransactionId)
    throw new NotComparable('signedTransactionInfo is for another originalTransactionId');
  return { status: item.status, transaction, renewal };
}
