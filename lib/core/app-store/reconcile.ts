/**
 * Reconciliation of one App Store subscription, pure: Storeline's view (the state aggregator's) against
 * Apple's truth (one lastTransactions item of Get All Subscription Statuses, its JWS decoded) -> the
 * canonical transitions that bring Storeline to the truth. The CLI runs it to decide whether to publish;
 * the normalizer runs it again on the published `app-store-status` record (which carries both sides and
 * the time of the comparison) to make the events, so both agree by construction.
 */
import type {
  EventType,
  PlanChange,
  StateStatus,
  SubscriptionEvent,
  SubscriptionStatus,
} from '../generated/avro';
import type { RawContext } from '../rawContext';
import { mapAppStoreV2 } from './mapV2';
import type { RenewalInfo, TransactionInfo } from './model';

/** The fields of Storeline's state the comparison reads (a subset of SubscriptionState). */
export interface StorelineView {
  status: StateStatus;
  autoRenew: boolean | null;
  productId: string | null;
  expiresAt: number | null;
  lastEventId: string;
  lastEventAt: number;
}

/** Apple's view of the subscription: the item's status and its decoded signed infos. */
export interface AppleTruth {
  /** 1 active, 2 expired, 3 billing retry, 4 billing grace period, 5 revoked */
  status: number;
  transaction: TransactionInfo;
  renewal?: RenewalInfo;
}

export interface ReconcileDraft {
  type: EventType;
  reason?: string | null;
  planChange?: PlanChange | null;
}

export interface Difference {
  field: 'status' | 'expiresAt' | 'autoRenew' | 'productId';
  storeline: string;
  apple: string;
}

/** `source.nativeType` of the events reconciliation makes. */
const RECONCILIATION_NATIVE_TYPE = 'RECONCILIATION';

/** Apple's status as Storeline's; a revocationDate revokes whatever the status says. */
function appleStatus(t: AppleTruth): SubscriptionStatus {
  if (t.status === 5 || t.transaction.revocationDate !== undefined) return 'REVOKED';
  switch (t.status) {
    case 1:
      return 'ACTIVE';
    case 2:
      return 'EXPIRED';
    case 3:
      return 'BILLING_RETRY';
    case 4:
      return 'GRACE_PERIOD';
    default:
      return 'UNKNOWN';
  }
}

/** Storeline's status as Apple could say it: a trial is active, a refund is a revocation. */
function comparable(s: StateStatus): StateStatus {
  if (s === 'TRIAL') return 'ACTIVE';
  if (s === 'REFUNDED') return 'REVOKED';
  return s;
}

/** https://developer.apple.com/documentation/appstoreserverapi/expirationintent */
function expirationReason(intent: number | undefined): string {
  switch (intent) {
    case 1:
      return 'VOLUNTARY';
    case 2:
      return 'BILLING_ERROR';
    case 3:
      return 'PRICE_INCREASE_DECLINED';
    case 4:
      return 'PRODUCT_UNAVAILABLE';
    default:
      return 'OTHER';
  }
}

function revocationReason(tx: TransactionInfo): string | null {
  if (tx.revocationType === 'FAMILY_REVOKE') return 'FAMILY_SHARING';
  if (tx.revocationReason === 1) return 'APP_ISSUE';
  if (tx.revocationReason === 0) return 'OTHER';
  return null;
}

const show = (v: string | number | boolean | null | undefined): string =>
  v === null || v === undefined ? 'none' : typeof v === 'number' ? new Date(v).toISOString() : String(v);

/** Each field of the view that Apple sees otherwise (for the operator; the drafts decide what is published). */
export function differences(view: StorelineView, t: AppleTruth): Difference[] {
  const out: Difference[] = [];
  const status = appleStatus(t);
  if (comparable(view.status) !== status)
    out.push({ field: 'status', storeline: view.status, apple: status });
  const expires = t.transaction.expiresDate ?? null;
  if (expires !== null && expires !== view.expiresAt)
    out.push({ field: 'expiresAt', storeline: show(view.expiresAt), apple: show(expires) });
  const autoRenew = t.renewal?.autoRenewStatus === undefined ? null : t.renewal.autoRenewStatus === 1;
  if (autoRenew !== null && autoRenew !== view.autoRenew)
    out.push({ field: 'autoRenew', storeline: show(view.autoRenew), apple: show(autoRenew) });
  const product = t.transaction.productId ?? null;
  if (product !== null && product !== view.productId)
    out.push({ field: 'productId', storeline: show(view.productId), apple: product });
  return out;
}

/**
 * The transitions Storeline missed, in order: the status change first, then a product change, then the
 * auto-renew change (only while the subscription lives: an expired or revoked one is not renewing anyway).
 * Every event carries Apple's whole view in its envelope, so the state comes to the truth whichever rule
 * fired. Nothing differs -> no drafts.
 */
export function reconcileDrafts(view: StorelineView, t: AppleTruth): ReconcileDraft[] {
  const drafts: ReconcileDraft[] = [];
  const status = appleStatus(t);
  const had = comparable(view.status);
  const tx = t.transaction;
  const live = status === 'ACTIVE' || status === 'GRACE_PERIOD' || status === 'BILLING_RETRY';
  if (status === 'REVOKED' && had !== 'REVOKED') {
    drafts.push({ type: 'REVOKED', reason: revocationReason(tx) });
  } else if (status === 'EXPIRED' && had !== 'EXPIRED') {
    drafts.push({ type: 'EXPIRED', reason: expirationReason(t.renewal?.expirationIntent) });
  } else if (status === 'BILLING_RETRY' && had !== 'BILLING_RETRY') {
    drafts.push({ type: 'BILLING_RETRY_STARTED', reason: 'BILLING_ERROR' });
  } else if (status === 'GRACE_PERIOD' && had !== 'GRACE_PERIOD') {
    drafts.push({ type: 'GRACE_PERIOD_STARTED', reason: 'BILLING_ERROR' });
  } else if (status === 'ACTIVE') {
    const later =
      tx.expiresDate !== undefined && (view.expiresAt === null || tx.expiresDate > view.expiresAt);
    if (had === 'BILLING_RETRY' || had === 'GRACE_PERIOD') drafts.push({ type: 'BILLING_RECOVERED' });
    else if (later || had !== 'ACTIVE') drafts.push({ type: 'RENEWED' });
  }
  if (live && tx.productId !== undefined && view.productId !== null && tx.productId !== view.productId) {
    drafts.push({
      type: 'PLAN_CHANGED',
      planChange: {
        fromProductId: view.productId,
        toProductId: tx.productId,
        timing: 'IMMEDIATE',
        direction: 'UNKNOWN',
        fromBasePlanId: null,
        toBasePlanId: null,
      },
    });
  }
  const autoRenew = t.renewal?.autoRenewStatus;
  if (live && autoRenew !== undefined && (autoRenew === 1) !== view.autoRenew) {
    drafts.push({ type: autoRenew === 1 ? 'AUTO_RENEW_ENABLED' : 'AUTO_RENEW_DISABLED' });
  }
  return drafts;
}

/** What the normalizer needs to make the events (the `app-store-status` record, decoded). */
export interface Reconciliation {
  reconciliationId: string;
  /** When the CLI compared: the events' occurredAt (Apple's truth as of then). */
  comparedAt: number;
  environment?: string;
  bundleId?: string;
  appAppleId?: number;
  view: StorelineView;
  truth: AppleTruth;
}

/**
 * The canonical events of a reconciliation; eventIds `app_store:reconcile:<id>:<n>`, source.nativeType
 * RECONCILIATION, source.notificationId the reconciliation id. The envelope (environment, appId, key,
 * product, expiry, auto-renew, status, entitlement, offer, price…) is mapV2's for a notification carrying
 * Apple's status and the same signed infos, so both paths fill it alike.
 */
export function mapReconciliation(r: Reconciliation, ctx: RawContext): SubscriptionEvent[] {
  const drafts = reconcileDrafts(r.view, r.truth);
  if (drafts.length === 0) return [];
  const [base] = mapAppStoreV2(
    {
      payload: {
        notificationType: 'DID_RENEW', // any type with one event: only its envelope is kept
        notificationUUID: r.reconciliationId,
        signedDate: r.comparedAt,
        data: {
          status: r.truth.status,
          environment: r.environment ?? r.truth.transaction.environment,
          bundleId: r.bundleId ?? r.truth.transaction.bundleId,
          appAppleId: r.appAppleId,
        },
      },
      transaction: r.truth.transaction,
      renewal: r.truth.renewal,
    },
    ctx,
  );
  if (!base) return [];
  const status = appleStatus(r.truth);
  return drafts.map((d, i) => ({
    ...base,
    type: d.type,
    status,
    entitled: status === 'ACTIVE' || status === 'GRACE_PERIOD',
    reason: d.reason ?? null,
    planChange: d.planChange ?? null,
    eventId: `app_store:reconcile:${r.reconciliationId}:${i}`,
    source: { ...base.source, nativeType: RECONCILIATION_NATIVE_TYPE, nativeSubtype: null },
  }));
}
