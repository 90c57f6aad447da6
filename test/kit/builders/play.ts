/** Builders for Play test data: RTDNs, Pub/Sub envelopes and subscriptionsv2 resources. */
import type {
  DeveloperNotification,
  PubSubPushEnvelope,
  SubscriptionLineItem,
  SubscriptionPurchaseV2,
} from '../../../lib/core/play/model';

export const PACKAGE = 'com.example.app';

export function sub(
  state: string,
  over: Partial<SubscriptionPurchaseV2> = {},
  item: Partial<SubscriptionLineItem> = {},
): SubscriptionPurchaseV2 {
  return {
    kind: 'androidpublisher#subscriptionPurchaseV2',
    regionCode: 'DE',
    startTime: '2026-01-01T10:00:00.000Z',
    subscriptionState: `SUBSCRIPTION_STATE_${state}`,
    acknowledgementState: 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED',
    externalAccountIdentifiers: { obfuscatedExternalAccountId: 'user-7' },
    lineItems: [
      {
        productId: 'premium',
        expiryTime: '2026-02-01T10:00:00.000Z',
        autoRenewingPlan: {
          autoRenewEnabled: true,
          recurringPrice: { currencyCode: 'EUR', units: '4', nanos: 990_000_000 },
        },
        offerDetails: { basePlanId: 'monthly' },
        latestSuccessfulOrderId: 'GPA.1111-2222-3333-44444',
        ...item,
      },
    ],
    ...over,
  };
}

export function rtdn(
  type: number,
  token = 'tok-1',
  eventTimeMillis = '1767261600000',
): DeveloperNotification {
  return {
    version: '1.0',
    packageName: PACKAGE,
    eventTimeMillis,
    subscriptionNotification: { version: '1.0', notificationType: type, purchaseToken: token },
  };
}

export function envelope(n: DeveloperNotification, messageId: string): PubSubPushEnvelope {
  return {
    message: {
      data: Buffer.from(JSON.stringify(n)).toString('base64'),
      messageId,
      message_id: messageId,
      publishTime: '2026-01-01T10:00:01.000Z',
      publish_time: '2026-01-01T10:00:01.000Z',
    },
    subscription: 'projects/storeline-test/subscriptions/play-rtdn',
  };
}
