/**
 * Pub/Sub push envelope -> DeveloperNotification, validated with zod. Pub/Sub sends both camelCase and
 * snake_case keys (messageId / message_id); `eventTimeMillis` arrives as a string.
 * https://developer.android.com/google/play/billing/rtdn-reference#encoding
 */
import { z } from 'zod';
import { PoisonMessageError } from '../errors';
import type { DeveloperNotification } from './model';

const PushEnvelope = z.object({
  message: z
    .object({
      data: z.string().min(1),
      messageId: z.string().min(1).optional(),
      message_id: z.string().min(1).optional(),
      publishTime: z.string().optional(),
      publish_time: z.string().optional(),
      attributes: z.record(z.string(), z.string()).optional(),
    })
    .refine((m) => m.messageId ?? m.message_id, 'message.messageId is required'),
  subscription: z.string().optional(),
  deliveryAttempt: z.number().optional(),
});

const Notification = z
  .object({
    version: z.string().optional(),
    packageName: z.string().min(1),
    eventTimeMillis: z.union([z.string().regex(/^\d+$/), z.number().int()]),
    subscriptionNotification: z
      .object({
        notificationType: z.number().int(),
        purchaseToken: z.string().min(1),
        subscriptionId: z.string().optional(),
        version: z.string().optional(),
      })
      .optional(),
    oneTimeProductNotification: z
      .object({
        notificationType: z.number().int(),
        purchaseToken: z.string().min(1),
        sku: z.string().optional(),
        version: z.string().optional(),
      })
      .optional(),
    voidedPurchaseNotification: z
      .object({
        purchaseToken: z.string().min(1),
        orderId: z.string().min(1),
        productType: z.number().int().optional(),
        refundType: z.number().int().optional(),
      })
      .optional(),
    pendingRefundReviewNotification: z
      .object({
        version: z.string().optional(),
        pendingRefundToken: z.string().optional(),
        orderId: z.string().optional(),
        refundReason: z.number().int().optional(),
        obfuscatedAccountId: z.string().optional(),
      })
      .optional(),
    testNotification: z.object({ version: z.string().optional() }).optional(),
  })
  .passthrough();

export interface ParsedPush {
  messageId: string;
  publishTime: string | null;
  notification: DeveloperNotification;
}

/** Throws PoisonMessageError('envelope' | 'decode') naming what is wrong. */
export function parsePush(body: Buffer | unknown): ParsedPush {
  let json: unknown = body;
  if (Buffer.isBuffer(body)) {
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new PoisonMessageError('envelope', 'body is not JSON');
    }
  }
  const env = PushEnvelope.safeParse(json);
  if (!env.success)
    throw new PoisonMessageError(
      'envelope',
      `not a Pub/Sub push envelope: ${env.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const m = env.data.message;
  const messageId = (m.messageId ?? m.message_id) as string;
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(m.data, 'base64').toString('utf8'));
  } catch {
    throw new PoisonMessageError('decode', 'message.data is not base64 JSON', {
      context: { notificationId: messageId },
    });
  }
  const n = Notification.safeParse(data);
  if (!n.success) {
    throw new PoisonMessageError(
      'decode',
      `message.data is not a DeveloperNotification: ${n.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      { context: { notificationId: messageId } },
    );
  }
  return {
    messageId,
    publishTime: m.publishTime ?? m.publish_time ?? null,
    notification: n.data as DeveloperNotification,
  };
}

/** The raw topic key: the purchase token, else the order, else the message id. */
export function rawKeyOf(n: DeveloperNotification, messageId: string): string {
  return (
    n.subscriptionNotification?.purchaseToken ??
    n.oneTimeProductNotification?.purchaseToken ??
    n.voidedPurchaseNotification?.purchaseToken ??
    n.pendingRefundReviewNotification?.orderId ??
    messageId
  );
}
