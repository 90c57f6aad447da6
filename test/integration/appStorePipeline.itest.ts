/**
 * App Store path end to end on the real stack: HTTP receiver -> raw topic -> normalizer (transactions) ->
 * canonical topic (Avro via the registry). Covers the 14 real Apple-signed samples, test-signed
 * notifications for every type without a real sample, V1, and a poison record going to the DLQ.
 */
import { randomUUID } from 'node:crypto';
import type { NotificationPayloadV2 } from '../../lib/core/app-store/model';
import { notification } from '../kit/builders/appStore';
import { createNormalizer } from '../../lib/adapters/normalizer/normalizer';
import { codecFor, createRegistry } from '../../lib/platform/avro';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';

import { DLQ_HEADERS } from '../../lib/platform/dlq';
import { createPki, signedBody, type Pki } from '../kit/appleSigning';
import { REAL_SAMPLES, V1_SECRET, startAppStoreReceiver } from '../support/appStore';
import { stackEnv } from '../support/env';
import { post } from '../support/http';
import {
  collect,
  createCatalogTopics,
  drainTopic,
  randomId,
  testKafka,
  testLogger,
  waitForRecords,
} from '../support/kafka';

const REAL_EXPECTED: Record<string, string[]> = {
  '01_DID_RENEW.json': ['RENEWED'],
  '02_SUBSCRIBED_INITIAL_BUY.json': ['SUBSCRIPTION_STARTED'],
  '03_SUBSCRIBED_RESUBSCRIBE.json': ['SUBSCRIPTION_STARTED'],
  '04_DID_CHANGE_RENEWAL_STATUS_AUTO_RENEW_DISABLED.json': ['AUTO_RENEW_DISABLED'],
  '05_EXPIRED_VOLUNTARY.json': ['EXPIRED'],
  '06_DID_CHANGE_RENEWAL_PREF_UPGRADE.json': ['PLAN_CHANGED'],
  '07_DID_CHANGE_RENEWAL_PREF_DOWNGRADE.json': ['PLAN_CHANGE_SCHEDULED'],
  '08_DID_CHANGE_RENEWAL_PREF_nosubtype.json': ['PLAN_CHANGE_CANCELED'],
  '09_CONSUMPTION_REQUEST_autorenewable.json': ['REFUND_REQUESTED'],
  '10_REFUND_autorenewable.json': ['REFUNDED'],
  '11_ONE_TIME_CHARGE_consumable.json': ['ONE_TIME_PURCHASE'],
  '12_CONSUMPTION_REQUEST_consumable.json': ['REFUND_REQUESTED'],
  '13_REFUND_consumable.json': ['REFUNDED'],
  '14_TEST_production.json': ['TEST'],
};

/** Types with no real sample, signed by the test PKI: [type, subtype, expected canonical types]. */
const SYNTHETIC: [string, string | undefined, string[], Record<string, unknown>?][] = [
  ['DID_FAIL_TO_RENEW', 'GRACE_PERIOD', ['GRACE_PERIOD_STARTED'], { status: 4 }],
  ['DID_FAIL_TO_RENEW', undefined, ['BILLING_RETRY_STARTED'], { status: 3 }],
  ['GRACE_PERIOD_EXPIRED', undefined, ['GRACE_PERIOD_ENDED'], { status: 3 }],
  ['OFFER_REDEEMED', undefined, ['OFFER_REDEEMED']],
  ['OFFER_REDEEMED', 'UPGRADE', ['OFFER_REDEEMED', 'PLAN_CHANGED']],
  [
    'OFFER_REDEEMED',
    'DOWNGRADE',
    ['OFFER_REDEEMED', 'PLAN_CHANGE_SCHEDULED'],
    { renewal: { autoRenewProductId: 'basic.monthly' } },
  ],
  ['PRICE_INCREASE', 'PENDING', ['PRICE_INCREASE_PENDING']],
  ['PRICE_INCREASE', 'ACCEPTED', ['PRICE_INCREASE_ACCEPTED']],
  ['REVOKE', undefined, ['REVOKED'], { status: 5 }],
  ['REFUND_DECLINED', undefined, ['REFUND_DECLINED']],
  ['REFUND_REVERSED', undefined, ['REFUND_REVERSED']],
  ['RENEWAL_EXTENDED', undefined, ['RENEWAL_EXTENDED']],
  ['RENEWAL_EXTENSION', 'FAILURE', ['RENEWAL_EXTENSION_FAILED']],
  ['DID_RENEW', 'BILLING_RECOVERY', ['BILLING_RECOVERED']],
  ['EXPIRED', 'VOLUNTARY', ['EXPIRED'], { status: 2 }],
  ['EXPIRED', 'BILLING_RETRY', ['EXPIRED'], { status: 2 }],
  ['EXPIRED', 'PRICE_INCREASE', ['EXPIRED'], { status: 2 }],
  ['EXPIRED', 'PRODUCT_NOT_FOR_SALE', ['EXPIRED'], { status: 2 }],
  ['EXPIRED', undefined, ['EXPIRED'], { status: 2 }],
  ['SUBSCRIPTION_TELEPORTED', undefined, ['UNKNOWN']],
];

function withPayload(n: ReturnType<typeof notification>, over: Partial<NotificationPayloadV2>) {
  return { ...n, payload: { ...n.payload, notificationUUID: randomUUID(), ...over } };
}

describe('App Store pipeline: HTTP -> raw topic -> normalizer -> canonical topic', () => {
  let pki: Pki;
  beforeAll(async () => {
    pki = await createPki();
  });

  it('maps every real sample and every test-signed type exactly once, and dead-letters poison', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const registry = createRegistry(stackEnv().registryUrl);
    const codec = codecFor<SubscriptionEvent>(registry, names, 'subscriptionEvents');
    await codec.register();
    const normalizer = createNormalizer({
      kafka,
      logger: testLogger,
      names,
      codec,
      groupId: randomId('norm'),
      transactionalIdPrefix: randomId('norm-tx'),
    });
    await normalizer.start();
    const receiver = await startAppStoreReceiver(kafka, names.name('rawAppStore'), {
      extraRoots: [pki.rootDer],
    });

    const expected = new Map<string, string[]>();
    try {
      for (const s of REAL_SAMPLES) {
        const res = await post(`${receiver.url}/app-store/v2`, s.body);
        expect({ file: s.file, status: res.status }).toEqual({ file: s.file, status: 200 });
        expected.set(res.json.notificationId as string, REAL_EXPECTED[s.file]!);
      }
      for (const [type, subtype, types, opts] of SYNTHETIC) {
        const n = withPayload(notification(type, subtype, opts as never), {});
        expect((await post(`${receiver.url}/app-store/v2`, signedBody(n, pki))).status).toBe(200);
        expected.set(n.payload.notificationUUID, types);
      }
      // App-level notices: a summary, an external purchase token and a consent withdrawal.
      const base = notification('X', undefined, { tx: null, renewal: null });
      const notices: [Partial<NotificationPayloadV2>, string][] = [
        [
          {
            notificationType: 'RENEWAL_EXTENSION',
            subtype: 'SUMMARY',
            data: undefined,
            summary: {
              environment: 'Sandbox',
              appAppleId: 1234567890,
              bundleId: 'com.example.app',
              productId: 'pro.monthly',
              succeededCount: 3,
              failedCount: 0,
            },
          },
          'STORE_NOTICE',
        ],
        [
          {
            notificationType: 'EXTERNAL_PURCHASE_TOKEN',
            subtype: 'UNREPORTED',
            data: undefined,
            externalPurchaseToken: {
              externalPurchaseId: 'SANDBOX_0001',
              tokenCreationDate: 1_760_000_000_000,
              appAppleId: 1234567890,
              bundleId: 'com.example.app',
            },
          },
          'STORE_NOTICE',
        ],
        [
          {
            notificationType: 'RESCIND_CONSENT',
            data: undefined,
            appData: {
              appAppleId: 1234567890,
              bundleId: 'com.example.app',
              environment: 'Sandbox',
              signedAppTransactionInfo: 'e30.e30.sig',
            },
          },
          'CONSENT_REVOKED',
        ],
      ];
      for (const [over, type] of notices) {
        const n = withPayload(base, over);
        const res = await post(`${receiver.url}/app-store/v2`, signedBody(n, pki));
        expect(res.status).toBe(200);
        expected.set(n.payload.notificationUUID, [type]);
      }
      // Legacy V1 through the same path.
      const v1Body = JSON.stringify({
        notification_type: 'DID_CHANGE_RENEWAL_STATUS',
        auto_renew_status: 'false',
        password: V1_SECRET,
        bid: 'com.example.app',
        environment: 'Sandbox',
        unified_receipt: {
          latest_receipt_info: [
            {
              original_transaction_id: '1000000000000009',
              transaction_id: '1000000000000010',
              product_id: 'pro.monthly',
              purchase_date_ms: '1760000000000',
              expires_date_ms: '1862592000000',
            },
          ],
        },
      });
      const v1 = await post(`${receiver.url}/app-store/v1`, v1Body);
      expect(v1.status).toBe(200);
      expected.set(v1.json.notificationId as string, ['AUTO_RENEW_DISABLED']);

      // Poison: authentic-looking raw record whose JWS payload is not JSON (bypassing the receiver).
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic: names.name('rawAppStore'),
        messages: [
          {
            key: 'poison',
            value: JSON.stringify({ signedPayload: 'aGVhZGVy.bm90LWpzb24.c2ln' }),
            headers: { format: 'app-store-v2', 'received-at': '1' },
          },
        ],
      });
      await producer.disconnect();

      const total = [...expected.values()].reduce((n, t) => n + t.length, 0);
      const live = await collect(kafka, [names.name('subscriptionEvents')]);
      await waitForRecords(live.records, total);
      await live.stop();
      const dlq = await collect(kafka, [names.name('rawAppStoreDlq')]);
      const [dead] = await waitForRecords(dlq.records, 1);
      await dlq.stop();
      expect(dead!.message.key!.toString()).toBe('poison');
      expect(dead!.message.headers![DLQ_HEADERS.stage]!.toString()).toBe('decode');
      expect(dead!.message.headers![DLQ_HEADERS.reason]!.toString()).toMatch(/signedPayload does not decode/);
      expect(dead!.message.headers![DLQ_HEADERS.sourceTopic]!.toString()).toBe(names.name('rawAppStore'));
    } finally {
      await receiver.close();
      await normalizer.stop();
    }

    // Exactly once: every expected event, no more, keyed by subscriptionKey, decodable through the registry.
    const records = await drainTopic(kafka, names.name('subscriptionEvents'));
    const events = await Promise.all(records.map((r) => codec.decode(r.message.value!)));
    records.forEach((r, i) => expect(r.message.key!.toString()).toBe(events[i]!.subscriptionKey));
    const byNotification = new Map<string, SubscriptionEvent[]>();
    for (const e of events)
      byNotification.set(e.source.notificationId, [
        ...(byNotification.get(e.source.notificationId) ?? []),
        e,
      ]);
    for (const [id, types] of expected) {
      const got = (byNotification.get(id) ?? []).sort((a, b) => a.eventId.localeCompare(b.eventId));
      expect({ id, types: got.map((e) => e.type) }).toEqual({ id, types });
    }
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
    expect(events).toHaveLength([...expected.values()].reduce((n, t) => n + t.length, 0));
    const unknown = events.find((e) => e.type === 'UNKNOWN')!;
    expect(unknown.source.nativeType).toBe('SUBSCRIPTION_TELEPORTED');
  });
});
