import { mapAppStoreV1, v1NotificationId } from './mapV1';
import type { NotificationV1, ReceiptInfoV1 } from './model';
import { CTX } from '../../../test/kit/builders/appStore';

function v1(
  type: string,
  over: Partial<NotificationV1> = {},
  receipts: Partial<ReceiptInfoV1>[] = [{}],
  pending: Record<string, string> = {},
): NotificationV1 {
  return {
    notification_type: type,
    password: 'secret',
    environment: 'PROD',
    bid: 'com.example.app',
    auto_renew_product_id: 'pro.monthly',
    auto_renew_status: 'true',
    unified_receipt: {
      environment: 'Production',
      status: 0,
      latest_receipt_info: receipts.map((r, i) => ({
        transaction_id: `10000000000000${i}`,
        original_transaction_id: '1000000000000000',
        product_id: 'pro.monthly',
        purchase_date_ms: String(1_760_000_000_000 - i * 2_592_000_000),
        original_purchase_date_ms: '1750000000000',
        expires_date_ms: String(1_762_592_000_000 - i * 2_592_000_000),
        ...r,
      })),
      pending_renewal_info: [
        {
          original_transaction_id: '1000000000000000',
          auto_renew_product_id: 'pro.monthly',
          auto_renew_status: '1',
          ...pending,
        },
      ],
    },
    ...over,
  };
}

const map = (n: NotificationV1) => mapAppStoreV1(n, Buffer.from(JSON.stringify(n)), CTX);

describe('Apple V1 mapping: every row of the table', () => {
  const rows: [string, NotificationV1, string, Record<string, unknown>][] = [
    [
      'INITIAL_BUY',
      v1('INITIAL_BUY'),
      'SUBSCRIPTION_STARTED',
      { isResubscribe: false, status: 'ACTIVE', entitled: true },
    ],
    [
      'INTERACTIVE_RENEWAL same product',
      v1('INTERACTIVE_RENEWAL', {}, [{}, {}]),
      'SUBSCRIPTION_STARTED',
      { isResubscribe: true },
    ],
    [
      'INTERACTIVE_RENEWAL other product',
      v1('INTERACTIVE_RENEWAL', {}, [{ product_id: 'pro.yearly' }, {}]),
      'PLAN_CHANGED',
      { planChange: expect.objectContaining({ fromProductId: 'pro.monthly', toProductId: 'pro.yearly' }) },
    ],
    ['DID_RENEW', v1('DID_RENEW'), 'RENEWED', {}],
    ['DID_RECOVER', v1('DID_RECOVER'), 'BILLING_RECOVERED', {}],
    ['RENEWAL', v1('RENEWAL'), 'BILLING_RECOVERED', {}],
    [
      'DID_FAIL_TO_RENEW with grace',
      v1('DID_FAIL_TO_RENEW', {}, [{}], {
        is_in_billing_retry_period: '1',
        grace_period_expires_date_ms: '1761000000000',
      }),
      'GRACE_PERIOD_STARTED',
      { status: 'GRACE_PERIOD', entitled: true, gracePeriodExpiresAt: 1_761_000_000_000 },
    ],
    [
      'DID_FAIL_TO_RENEW without grace',
      v1('DID_FAIL_TO_RENEW', {}, [{}], { is_in_billing_retry_period: '1' }),
      'BILLING_RETRY_STARTED',
      { status: 'BILLING_RETRY', entitled: false },
    ],
    [
      'DID_CHANGE_RENEWAL_STATUS true',
      v1('DID_CHANGE_RENEWAL_STATUS', {
        auto_renew_status: 'true',
        auto_renew_status_change_date_ms: '1760000000700',
      }),
      'AUTO_RENEW_ENABLED',
      { autoRenew: true, occurredAt: 1_760_000_000_700 },
    ],
    [
      'DID_CHANGE_RENEWAL_STATUS false',
      v1('DID_CHANGE_RENEWAL_STATUS', { auto_renew_status: 'false' }),
      'AUTO_RENEW_DISABLED',
      { autoRenew: false },
    ],
    [
      'DID_CHANGE_RENEWAL_PREF to other',
      v1('DID_CHANGE_RENEWAL_PREF', { auto_renew_product_id: 'basic.monthly' }),
      'PLAN_CHANGE_SCHEDULED',
      { nextProductId: 'basic.monthly' },
    ],
    [
      'DID_CHANGE_RENEWAL_PREF back',
      v1('DID_CHANGE_RENEWAL_PREF'),
      'PLAN_CHANGE_CANCELED',
      { nextProductId: null },
    ],
    [
      'CANCEL refund app issue',
      v1('CANCEL', {}, [{ cancellation_date_ms: '1760000000300', cancellation_reason: '1' }]),
      'REFUNDED',
      { reason: 'APP_ISSUE', status: 'REVOKED', entitled: false, occurredAt: 1_760_000_000_300 },
    ],
    [
      'CANCEL refund other',
      v1('CANCEL', {}, [{ cancellation_date_ms: '1760000000300', cancellation_reason: '0' }]),
      'REFUNDED',
      { reason: 'OTHER' },
    ],
    [
      'CANCEL upgrade',
      v1('CANCEL', {}, [{ cancellation_date_ms: '1760000000300', is_upgraded: 'true' }]),
      'PLAN_CHANGED',
      { planChange: expect.objectContaining({ direction: 'UPGRADE' }) },
    ],
    ['REFUND', v1('REFUND'), 'REFUNDED', { refund: { scope: 'FULL', percentage: null, quantity: null } }],
    ['REVOKE', v1('REVOKE'), 'REVOKED', {}],
    ['CONSUMPTION_REQUEST', v1('CONSUMPTION_REQUEST'), 'REFUND_REQUESTED', {}],
    ['PRICE_INCREASE_CONSENT', v1('PRICE_INCREASE_CONSENT'), 'PRICE_INCREASE_PENDING', {}],
    [
      'unknown type',
      v1('SOMETHING_NEW'),
      'UNKNOWN',
      { source: expect.objectContaining({ nativeType: 'SOMETHING_NEW' }) },
    ],
  ];

  it.each(rows)('%s', (_name, n, type, extra) => {
    const events = map(n);
    expect(events.map((e) => e.type)).toEqual([type]);
    expect(events[0]).toMatchObject({
      store: 'APP_STORE',
      environment: 'PRODUCTION',
      appId: 'com.example.app',
      subscriptionKey: 'app_store:1000000000000000',
      ...extra,
    });
  });

  it('derives a deterministic eventId from the exact body', () => {
    const n = v1('DID_RENEW');
    const body = Buffer.from(JSON.stringify(n));
    expect(mapAppStoreV1(n, body, CTX)[0]!.eventId).toBe(`app_store:${v1NotificationId(body)}:0`);
    expect(mapAppStoreV1(n, Buffer.from(JSON.stringify(n)), CTX)[0]!.eventId).toBe(
      mapAppStoreV1(n, body, CTX)[0]!.eventId,
    );
    expect(v1NotificationId(Buffer.from(JSON.stringify({ ...n, bvrs: '2' })))).not.toBe(
      v1NotificationId(body),
    );
  });
});
