import { createLogger } from '../../platform/logger';
import type { PlayApi } from './ports';
import type { DeveloperNotification, SubscriptionPurchaseV2 } from './model';
import { createPlayProcessor } from './processor';
import { MemoryPlayRepo } from '../../adapters/play/repo';
import { envelope, rtdn, sub } from '../../../test/kit/builders/play';

function fakeApi(resource: () => SubscriptionPurchaseV2): PlayApi & { reads: number; acks: string[] } {
  const api = {
    reads: 0,
    acks: [] as string[],
    async getSubscriptionV2() {
      api.reads++;
      return resource();
    },
    async getProductPurchase() {
      return null;
    },
    async acknowledgeSubscription(_p: string, token: string) {
      api.acks.push(token);
    },
    async listVoidedPurchases() {
      return { voidedPurchases: [] };
    },
  };
  return api;
}

const ctx = (offset: number) => ({ receivedAt: 1, rawTopic: 'raw', rawPartition: 0, rawOffset: offset });
const body = (type: number, id: string) => Buffer.from(JSON.stringify(envelope(rtdn(type), id)));

describe('Play processor', () => {
  it('re-emits the stored outcome when the same raw record comes again (aborted Kafka transaction)', async () => {
    let current = sub('ACTIVE', { acknowledgementState: 'ACKNOWLEDGEMENT_STATE_PENDING' });
    const api = fakeApi(() => current);
    const process = createPlayProcessor({
      api,
      repo: new MemoryPlayRepo(),
      logger: createLogger('t', 'silent'),
      acknowledge: true,
    });
    const first = await process(body(4, 'm-1'), ctx(10));
    expect(first.map((e) => e.type)).toEqual(['SUBSCRIPTION_STARTED']);
    expect(api.acks).toEqual(['tok-1']);
    // The Kafka transaction carrying `first` aborted; the record is delivered again, the API has moved on.
    current = sub('EXPIRED');
    expect(await process(body(4, 'm-1'), ctx(10))).toEqual(first);
    // A Pub/Sub duplicate (another raw record, same messageId) yields nothing and is not read again.
    expect(await process(body(4, 'm-1'), ctx(11))).toEqual([]);
    expect(api.reads).toBe(1);
  });

  it('reordered deliveries: the late older notification finds nothing new', async () => {
    // Grace started after a renewal, but the grace RTDN is processed first: the API already shows both.
    const api = fakeApi(() =>
      sub(
        'IN_GRACE_PERIOD',
        {},
        { expiryTime: '2026-03-01T10:00:00.000Z', latestSuccessfulOrderId: 'GPA.X..0' },
      ),
    );
    const repo = new MemoryPlayRepo();
    await repo.commit({
      messageId: 'm-0',
      rawPosition: 'raw/0/0',
      events: [],
      snapshot: { token: 'tok-1', rootToken: 'tok-1', replacedBy: null, resource: sub('ACTIVE') },
    });
    const process = createPlayProcessor({
      api,
      repo,
      logger: createLogger('t', 'silent'),
      acknowledge: false,
    });
    expect((await process(body(6, 'm-grace'), ctx(1))).map((e) => e.type)).toEqual(['GRACE_PERIOD_STARTED']);
    expect((await process(body(2, 'm-renew'), ctx(2))).map((e) => e.type)).toEqual([]);
  });

  it('refuses what is not a push envelope', async () => {
    const process = createPlayProcessor({
      api: fakeApi(() => sub('ACTIVE')),
      repo: new MemoryPlayRepo(),
      logger: createLogger('t', 'silent'),
      acknowledge: false,
    });
    await expect(process(Buffer.from('{"message":{}}'), ctx(1))).rejects.toThrow(
      /not a Pub\/Sub push envelope/,
    );
  });

  describe('voided purchases are deduplicated by orderId', () => {
    const voided = (orderId: string, productType?: number): DeveloperNotification => ({
      version: '1.0',
      packageName: 'com.example.app',
      eventTimeMillis: '1767261600000',
      voidedPurchaseNotification: {
        purchaseToken: 'tok-1',
        orderId,
        ...(productType === undefined ? {} : { productType }),
      },
    });
    const push = (n: DeveloperNotification, id: string) => Buffer.from(JSON.stringify(envelope(n, id)));
    const setup = (resource: SubscriptionPurchaseV2 | null) => {
      const api = fakeApi(() => resource as SubscriptionPurchaseV2);
      const process = createPlayProcessor({
        api,
        repo: new MemoryPlayRepo(),
        logger: createLogger('t', 'silent'),
        acknowledge: false,
      });
      return process;
    };
    const order = 'GPA.1111-2222-3333-44444';

    it('a live RTDN, then the backfilled copy (other messageId, no productType): events once', async () => {
      const process = setup(sub('ACTIVE'));
      const live = await process(push(voided(order, 1), 'm-live'), ctx(1));
      expect(live.map((e) => e.type)).toEqual(['REFUNDED', 'REVOKED']);
      expect(await process(push(voided(order), `backfill-voided:${order}`), ctx(2))).toEqual([]);
    });

    it('a backfilled copy, then the late live RTDN: events once, and the aborted-transaction retry re-emits', async () => {
      const process = setup(sub('ACTIVE'));
      const backfilled = await process(push(voided(order), `backfill-voided:${order}`), ctx(1));
      expect(backfilled.map((e) => e.type)).toEqual(['REFUNDED', 'REVOKED']);
      expect(await process(push(voided(order), `backfill-voided:${order}`), ctx(1))).toEqual(backfilled);
      expect(await process(push(voided(order, 1), 'm-live'), ctx(2))).toEqual([]);
      // Another order of the same token (a renewal) is another refund.
      expect(
        (await process(push(voided('GPA.9999-2222-3333-44444..1', 1), 'm-2'), ctx(3))).map((e) => e.type),
      ).toEqual(['REFUNDED']);
    });

    it('without productType, a token the API does not know as a subscription is a one-time product', async () => {
      const process = setup(null);
      const events = await process(push(voided('GPA.OT-1'), 'backfill-voided:GPA.OT-1'), ctx(1));
      expect(events.map((e) => [e.type, e.subscriptionKey, e.status])).toEqual([
        ['REFUNDED', 'play_store:GPA.OT-1', 'REVOKED'],
      ]);
    });
  });
});
