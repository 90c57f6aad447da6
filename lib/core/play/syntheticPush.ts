/**
 * The raw record an operator tool writes for Google Play instead of a Pub/Sub push: the envelope around a
 * DeveloperNotification with the Play receiver's key and headers, plus one header saying which tool wrote it.
 * The normalizer then treats it exactly like a pushed one (backfill of voided purchases, reconciliation).
 */
import { RAW_HEADERS } from '../rawHeaders';
import { rawKeyOf } from './envelope';
import type { DeveloperNotification, PubSubPushEnvelope } from './model';

export interface SyntheticPush {
  messageId: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

export function syntheticPush(
  n: DeveloperNotification,
  messageId: string,
  opts: {
    receivedAt: number;
    requestId: string;
    /** The Pub/Sub subscription name the envelope claims, e.g. storeline-backfill. */
    subscription: string;
    /** The header naming the tool: RAW_HEADERS.backfill or RAW_HEADERS.reconcile, and its value. */
    origin: [string, string];
  },
): SyntheticPush {
  const publishTime = new Date(opts.receivedAt).toISOString();
  const envelope: PubSubPushEnvelope = {
    message: { data: Buffer.from(JSON.stringify(n)).toString('base64'), messageId, publishTime },
    subscription: opts.subscription,
  };
  return {
    messageId,
    key: rawKeyOf(n, messageId),
    value: Buffer.from(JSON.stringify(envelope)),
    headers: {
      [RAW_HEADERS.format]: 'play-store-pubsub',
      [RAW_HEADERS.receivedAt]: String(opts.receivedAt),
      [RAW_HEADERS.requestId]: opts.requestId,
      [RAW_HEADERS.notificationId]: messageId,
      'message-id': messageId,
      'publish-time': publishTime,
      [opts.origin[0]]: opts.origin[1],
    },
  };
}
