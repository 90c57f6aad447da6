import { normalizeAppStoreV1, receiptProblemV1 } from './appStore';
import { rawKeyV1 } from '../app-store/mapV1';
import type { NotificationV1 } from '../app-store/model';

const ctx = { receivedAt: 1, rawTopic: 'raw', rawPartition: 0, rawOffset: 0 };
const v1 = (receipts: unknown): NotificationV1 =>
  ({
    notification_type: 'DID_RENEW',
    environment: 'Sandbox',
    unified_receipt: { latest_receipt_info: receipts },
  }) as unknown as NotificationV1;

describe('authentic V1 bodies with malformed receipts', () => {
  it.each([
    [[{ original_transaction_id: 1000000123, purchase_date_ms: '1' }], 'original_transaction_id is a number'],
    [42, 'not an array'],
    [{ original_transaction_id: '1' }, 'not an array'],
    [[null], 'non-object'],
  ])('%j: keyed by the notification at the receiver, dead-lettered by the normalizer', (receipts, reason) => {
    const n = v1(receipts);
    expect(rawKeyV1(n, 'v1-abc')).toBe('v1-abc');
    expect(receiptProblemV1(n)).toContain(reason);
    expect(() => normalizeAppStoreV1(Buffer.from(JSON.stringify(n)), ctx)).toThrow(reason);
  });

  it('a well-formed receipt keys by its original_transaction_id', () => {
    const n = v1([{ original_transaction_id: '2000000001', purchase_date_ms: '5' }]);
    expect(rawKeyV1(n, 'v1-abc')).toBe('2000000001');
    expect(receiptProblemV1(n)).toBeUndefined();
  });
});
