/**
 * Whether an App Store request is accepted, pure: body + content type + now -> the raw record's key, the
 * notification id and the environment, or the failed check. The receivers publish what is accepted; the CLI
 * verifies files the same way.
 */
import { rawKeyV2 } from '../app-store/decode';
import { rawKeyV1, v1NotificationId } from '../app-store/mapV1';
import { appIdentity } from '../app-store/identity';
import { NotificationRejected, type AppleVerifier, type VerificationCheck } from '../app-store/verify';
import { CONTENT_TYPE_REJECTION, isJsonContentType, type AppStoreFormat } from './format';

export interface AppStoreRequest {
  format: AppStoreFormat;
  body: Buffer;
  contentType: string | undefined;
  now: number;
}

export interface AppStoreTrust {
  verifier: AppleVerifier;
  /** V1 bodies authenticate with it; without it a V1 body is refused (check `secret`). */
  v1SharedSecret?: string;
}

export type AppStoreAcceptance =
  | { accepted: { key: string; id: string; env: string } }
  | { rejected: { check: VerificationCheck | 'content_type'; status: 400 | 401; message: string } };

export function acceptAppStore(req: AppStoreRequest, trust: AppStoreTrust): AppStoreAcceptance {
  if (!isJsonContentType(req.contentType)) return { rejected: CONTENT_TYPE_REJECTION };
  try {
    return { accepted: identify(req, trust) };
  } catch (err) {
    if (!(err instanceof NotificationRejected)) throw err;
    return { rejected: { check: err.check, status: err.status, message: err.message } };
  }
}

function identify(req: AppStoreRequest, trust: AppStoreTrust): { key: string; id: string; env: string } {
  if (req.format === 'app-store-v2') {
    const payload = trust.verifier.verifyNotificationV2(req.body, req.now);
    return {
      key: rawKeyV2(payload),
      id: payload.notificationUUID,
      env: appIdentity(payload).environment ?? 'unknown',
    };
  }
  if (trust.v1SharedSecret === undefined)
    throw new NotificationRejected('secret', 'V1 notification and no shared secret');
  const n = trust.verifier.verifyNotificationV1(req.body, trust.v1SharedSecret);
  const id = v1NotificationId(req.body);
  return { key: rawKeyV1(n, id), id, env: n.environment ?? 'unknown' };
}
