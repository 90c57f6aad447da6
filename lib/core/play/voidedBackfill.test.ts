import { parsePush } from './envelope';
import { voidedRecord } from './voidedBackfill';

describe('voidedRecord', () => {
  it('is the voided-purchase RTDN the receiver would have stored, keyed by token, with a stable messageId', () => {
    const r = voidedRecord(
      { purchaseToken: 'tok-1', orderId: 'GPA.1..2', voidedTimeMillis: '1767261600000', voidedReason: 1 },
      'com.example.app',
      { receivedAt: 5, requestId: 'req' },
    )!;
    expect(r.key).toBe('tok-1');
    expect(r.headers).toMatchObject({
      format: 'play-store-pubsub',
      'message-id': 'backfill-voided:GPA.1..2',
      'notification-id': 'backfill-voided:GPA.1..2',
      backfill: 'play-store:voided-purchases',
      'request-id': 'req',
    });
    const p = parsePush(r.value);
    expect(p.messageId).toBe('backfill-voided:GPA.1..2');
    expect(p.notification).toEqual({
      version: '1.0',
      packageName: 'com.example.app',
      eventTimeMillis: '1767261600000',
      voidedPurchaseNotification: { purchaseToken: 'tok-1', orderId: 'GPA.1..2', refundType: 1 },
    });
  });

  it('a voided quantity is a quantity-based partial refund; no token or order, no record', () => {
    const r = voidedRecord({ purchaseToken: 't', orderId: 'o', voidedQuantity: 1 }, 'p', {
      receivedAt: 1,
      requestId: 'r',
    })!;
    expect(parsePush(r.value).notification.voidedPurchaseNotification?.refundType).toBe(2);
    expect(voidedRecord({ purchaseToken: 't' }, 'p', { receivedAt: 1, requestId: 'r' })).toBeUndefined();
  });
});
