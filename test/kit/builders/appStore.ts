/** Builders for App Store test data (unsigned decoded notifications), shared by unit and integration tests. */
import type {
  DecodedNotificationV2,
  NotificationPayloadV2,
  RenewalInfo,
  TransactionInfo,
} from '../../../lib/core/app-store/model';
import type { RawContext } from '../../../lib/core/rawContext';

export const CTX: RawContext = {
  receivedAt: 1_760_000_000_999,
  rawTopic: 'raw',
  rawPartition: 2,
  rawOffset: 7,
};

function transaction(over: Partial<TransactionInfo> = {}): TransactionInfo {
  return {
    transactionId: '2000000111111112',
    originalTransactionId: '2000000111111111',
    bundleId: 'com.example.app',
    productId: 'pro.monthly',
    purchaseDate: 1_760_000_000_000,
    originalPurchaseDate: 1_750_000_000_000,
    expiresDate: 1_762_592_000_000,
    quantity: 1,
    type: 'Auto-Renewable Subscription',
    appAccountToken: '7a1b2c3d-0000-4000-8000-00000000beef',
    inAppOwnershipType: 'PURCHASED',
    signedDate: 1_760_000_000_100,
    environment: 'Sandbox',
    storefront: 'USA',
    transactionReason: 'RENEWAL',
    currency: 'USD',
    price: 9990,
    ...over,
  };
}

function renewal(over: Partial<RenewalInfo> = {}): RenewalInfo {
  return {
    originalTransactionId: '2000000111111111',
    productId: 'pro.monthly',
    autoRenewProductId: 'pro.monthly',
    autoRenewStatus: 1,
    environment: 'Sandbox',
    signedDate: 1_760_000_000_100,
    ...over,
  };
}

export function notification(
  notificationType: string,
  subtype?: string,
  opts: {
    status?: number;
    tx?: Partial<TransactionInfo> | null;
    renewal?: Partial<RenewalInfo> | null;
    data?: Record<string, unknown>;
  } = {},
): DecodedNotificationV2 {
  const payload: NotificationPayloadV2 = {
    notificationType,
    ...(subtype === undefined ? {} : { subtype }),
    notificationUUID: '0f0e0d0c-1111-4222-8333-444455556666',
    version: '2.0',
    signedDate: 1_760_000_000_500,
    data: {
      appAppleId: 1234567890,
      bundleId: 'com.example.app',
      bundleVersion: '1',
      environment: 'Sandbox',
      status: opts.status ?? 1,
      ...opts.data,
    },
  };
  return {
    payload,
    transaction: opts.tx === null ? undefined : transaction(opts.tx ?? {}),
    renewal: opts.renewal === null ? undefined : renewal(opts.renewal ?? {}),
  };
}
