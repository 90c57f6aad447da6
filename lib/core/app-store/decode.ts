/**
 * Decodes the JWS nested in a verified V2 payload (signedTransactionInfo, signedRenewalInfo). Their bytes
 * are covered by the outer signature, so they are decoded, not re-verified (one ECDSA check per request).
 */
import { PoisonMessageError, errorMessage } from '../errors';
import type { DecodedNotificationV2, NotificationPayloadV2, RenewalInfo, TransactionInfo } from './model';
import { decodeJwsPayload } from './jws';

function nested<T>(jws: string | undefined, what: string, notificationId: string): T | undefined {
  if (jws === undefined) return undefined;
  try {
    return decodeJwsPayload<T>(jws);
  } catch (err) {
    throw new PoisonMessageError('decode', `${what} does not decode: ${errorMessage(err)}`, {
      context: { notificationId },
    });
  }
}

export function decodeNotificationV2(payload: NotificationPayloadV2): DecodedNotificationV2 {
  const id = payload.notificationUUID;
  return {
    payload,
    transaction: nested<TransactionInfo>(payload.data?.signedTransactionInfo, 'signedTransactionInfo', id),
    renewal: nested<RenewalInfo>(payload.data?.signedRenewalInfo, 'signedRenewalInfo', id),
  };
}

/** The raw topic key: originalTransactionId when present, else notificationUUID. Never throws. */
export function rawKeyV2(payload: NotificationPayloadV2): string {
  try {
    const otid: unknown = decodeNotificationV2(payload).transaction?.originalTransactionId;
    // A JSON number here (authentic but malformed) must not become a non-string Kafka key.
    if (typeof otid === 'string' && otid !== '') return otid;
  } catch {
    // Undecodable nested data is the normalizer's to dead-letter; key by the notification.
  }
  return payload.notificationUUID;
}
