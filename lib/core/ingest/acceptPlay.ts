/**
 * Whether an authenticated Pub/Sub push is accepted, pure: body + content type -> the raw record's key, the
 * message id and publish time; or poison (authentic but undecodable, or a package not served here), which
 * the receiver dead-letters rather than nacks, since a nacked push stalls the subscription; or refused.
 * Authentication (OIDC against Google's keys, or a token) comes first and is the receiver's.
 */
import { PoisonMessageError } from '../errors';
import { parsePush, rawKeyOf } from '../play/envelope';
import { CONTENT_TYPE_REJECTION, isJsonContentType } from './format';

export interface PlayRequest {
  body: Buffer;
  contentType: string | undefined;
  /** The id a poison message is known by when it has no message id of its own. */
  requestId: string;
}

export type PlayAcceptance =
  | { accepted: { key: string; id: string; publishTime: string | null } }
  | { poison: { key: string; id: string; publishTime: string | null; error: PoisonMessageError } }
  | { rejected: { check: 'content_type' | 'envelope'; status: 400; message: string } };

export function acceptPlay(req: PlayRequest, packageNames: string[]): PlayAcceptance {
  if (!isJsonContentType(req.contentType)) return { rejected: CONTENT_TYPE_REJECTION };
  try {
    const p = parsePush(req.body);
    const at = { key: rawKeyOf(p.notification, p.messageId), id: p.messageId, publishTime: p.publishTime };
    if (packageNames.includes(p.notification.packageName)) return { accepted: at };
    const name = JSON.stringify(p.notification.packageName);
    return {
      poison: { ...at, error: new PoisonMessageError('package', `packageName ${name} is not served here`) },
    };
  } catch (err) {
    if (!(err instanceof PoisonMessageError)) throw err;
    if (err.stage === 'envelope')
      return { rejected: { check: 'envelope', status: 400, message: err.message } };
    const id = (err.context.notificationId as string | undefined) ?? req.requestId;
    return { poison: { key: id, id, publishTime: null, error: err } };
  }
}
