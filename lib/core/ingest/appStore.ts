/**
 * App Store raw record -> canonical events, pure. The raw topic holds exactly what a receiver verified and
 * accepted, so the JWS is decoded here, not verified again (the trust boundary is the raw topic's ACL;
 * `storeline normalize` verifies files itself). Undecodable input raises PoisonMessageError('decode'), which
 * the transformer dead-letters with the reason; an unknown notification type is an UNKNOWN event, not a
 * dead letter.
 */
import { decodeNotificationV2 } from '../app-store/decode';
import { mapAppStoreV1 } from '../app-store/mapV1';
import { mapAppStoreV2 } from '../app-store/mapV2';
import type { RawContext } from '../rawContext';
import type { NotificationPayloadV2, NotificationV1 } from '../app-store/model';
import { decodeJwsPayload } from '../app-store/jws';
import { mapReconciliation, type StorelineView } from '../app-store/reconcile';
import type { RenewalInfo, TransactionInfo } from '../app-store/model';
import { PoisonMessageError, errorMessage } from '../errors';
import type { SubscriptionEvent } from '../generated/avro';

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new PoisonMessageError('decode', `body is not JSON: ${errorMessage(err)}`);
  }
}

export function normalizeAppStoreV2(body: Buffer, ctx: RawContext): SubscriptionEvent[] {
  const signedPayload = (parseJson(body) as { signedPayload?: unknown } | null)?.signedPayload;
  if (typeof signedPayload !== 'string') throw new PoisonMessageError('decode', 'body has no signedPayload');
  let payload: NotificationPayloadV2;
  try {
    payload = decodeJwsPayload<NotificationPayloadV2>(signedPayload);
  } catch (err) {
    throw new PoisonMessageError('decode', `signedPayload does not decode: ${errorMessage(err)}`);
  }
  if (typeof payload.notificationUUID !== 'string' || typeof payload.signedDate !== 'number') {
    throw new PoisonMessageError('decode', 'payload lacks notificationUUID or signedDate');
  }
  return mapAppStoreV2(decodeNotificationV2(payload), ctx);
}

export function normalizeAppStoreV1(body: Buffer, ctx: RawContext): SubscriptionEvent[] {
  const n = parseJson(body) as NotificationV1 | null;
  if (!n || typeof n.notification_type !== 'string')
    throw new PoisonMessageError('decode', 'body has no notification_type');
  const problem = receiptProblemV1(n);
  if (problem) throw new PoisonMessageError('decode', problem);
  return mapAppStoreV1(n, body, ctx);
}

/** Authentic V1 bodies with receipts of the wrong shape are dead-lettered with this reason, not mapped. */
export function receiptProblemV1(n: NotificationV1): string | undefined {
  const receipts: unknown = n.unified_receipt?.latest_receipt_info;
  if (receipts === undefined || receipts === null) return undefined;
  if (!Array.isArray(receipts)) return 'unified_receipt.latest_receipt_info is not an array';
  for (const r of receipts as unknown[]) {
    if (typeof r !== 'object' || r === null) return 'unified_receipt.latest_receipt_info holds a non-object';
    const otid = (r as { original_transaction_id?: unknown }).original_transaction_id;
    if (otid !== undefined && typeof otid !== 'string')
      return `original_transaction_id is a ${typeof otid}, not a string`;
  }
  return undefined;
}

/**
 * The body of an `app-store-status` raw record (storeline reconcile app-store): one lastTransactions item
 * of Get All Subscription Statuses as Apple signed it, the Storeline view it was compared with, and when.
 */
export interface AppStoreStatusBody {
  reconciliationId: string;
  comparedAt: number;
  environment?: string;
  bundleId?: string;
  appAppleId?: number;
  subscriptionGroupIdentifier: string;
  lastTransaction: {
    originalTransactionId: string;
    status: number;
    signedTransactionInfo: string;
    signedRenewalInfo?: string;
  };
  storeline: StorelineView & { subscriptionKey: string };
}

/**
 * An `app-store-status` record -> the reconciliation's events. The CLI verified the signed infos with the
 * AppleVerifier before publishing, as a receiver verifies a push, so they are decoded here, not verified
 * again (the trust boundary is the raw topic's ACL).
 */
export function normalizeAppStoreStatus(body: Buffer, ctx: RawContext): SubscriptionEvent[] {
  const b = parseJson(body) as Partial<AppStoreStatusBody> | null;
  const item = b?.lastTransaction;
  const view = b?.storeline;
  if (
    typeof b?.reconciliationId !== 'string' ||
    typeof b.comparedAt !== 'number' ||
    typeof item?.signedTransactionInfo !== 'string' ||
    typeof item.status !== 'number' ||
    typeof view?.status !== 'string'
  )
    throw new PoisonMessageError(
      'decode',
      'app-store-status body lacks reconciliationId, comparedAt, lastTransaction or storeline',
    );
  let transaction: TransactionInfo;
  let renewal: RenewalInfo | undefined;
  try {
    transaction = decodeJwsPayload<TransactionInfo>(item.signedTransactionInfo);
    renewal =
      item.signedRenewalInfo === undefined
        ? undefined
        : decodeJwsPayload<RenewalInfo>(item.signedRenewalInfo);
  } catch (err) {
    throw new PoisonMessageError('decode', `signed statuses item does not decode: ${errorMessage(err)}`);
  }
  return mapReconciliation(
    {
      reconciliationId: b.reconciliationId,
      comparedAt: b.comparedAt,
      environment: b.environment,
      bundleId: b.bundleId,
      appAppleId: b.appAppleId,
      view,
      truth: { status: item.status, transaction, renewal },
    },
    ctx,
  );
}
