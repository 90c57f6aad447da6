import type { SubscriptionEvent } from '../../../lib/core/generated/avro';

/** A complete canonical event for codec and pipeline tests. */
export function sampleEvent(overrides: Partial<SubscriptionEvent> = {}): SubscriptionEvent {
  return {
    eventId: 'app_store:6f2b1a3c-0000-4000-8000-000000000001:0',
    type: 'RENEWED',
    store: 'APP_STORE',
    environment: 'SANDBOX',
    appId: 'com.example.app',
    subscriptionKey: 'app_store:2000000123456789',
    appUserId: '5d8e3c2a-1111-4222-8333-444455556666',
    productId: 'pro.monthly',
    nextProductId: null,
    transactionId: '2000000987654321',
    occurredAt: 1_731_000_000_000,
    receivedAt: 1_731_000_000_500,
    status: 'ACTIVE',
    entitled: true,
    autoRenew: true,
    expiresAt: 1_733_592_000_000,
    gracePeriodExpiresAt: null,
    purchasedAt: 1_731_000_000_000,
    originalPurchasedAt: 1_725_000_000_000,
    periodType: 'NORMAL',
    price: { amountMicros: 9_990_000, currency: 'USD' },
    reason: null,
    planChange: null,
    offer: null,
    refund: null,
    countryCode: 'USA',
    isFamilyShare: false,
    isResubscribe: false,
    source: {
      notificationId: '6f2b1a3c-0000-4000-8000-000000000001',
      nativeType: 'DID_RENEW',
      nativeSubtype: null,
      rawTopic: 'storeline.raw.app-store.v1',
      rawPartition: 3,
      rawOffset: 42,
    },
    ...overrides,
  };
}
