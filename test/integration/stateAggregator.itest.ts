/**
 * State aggregator on the real broker, registry and PostgreSQL: the real App Store samples end in the right
 * states, duplicates and late events change nothing, states reach the compacted topic, and the query API
 * answers as documented.
 */
import { createIdempotentProducer } from '../../lib/platform/kafka';
import { diffPlay } from '../../lib/core/play/diff';
import type { PlaySnapshot } from '../../lib/core/play/model';
import { rtdn, sub } from '../kit/builders/play';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import { createAggregator } from '../../lib/adapters/state/aggregator';
import { createStateApi } from '../../services/state/app';
import { getState } from '../../lib/adapters/state/store';
import { serve } from '../support/http';
import {
  collect,
  createCatalogTopics,
  randomId,
  testKafka,
  testLogger,
  waitFor,
  waitForRecords,
} from '../support/kafka';
import { codecs, migratedPool, produceEvents, realSampleEvents } from '../support/state';

const API_KEY = 'test-api-key-0123456789';

describe('state aggregator (real Kafka, registry, PostgreSQL)', () => {
  it('folds the real samples into the right states, publishes them, and serves them', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const { eventCodec, stateCodec } = await codecs(names);
    const { pool } = await migratedPool();
    const producer = createIdempotentProducer(kafka);
    await producer.connect();
    const aggregator = createAggregator({
      kafka,
      pool,
      producer,
      eventCodec,
      stateCodec,
      names,
      logger: testLogger,
      groupId: randomId('state'),
    });
    await aggregator.start();
    const api = await serve(
      createStateApi({ pool, apiKeys: [API_KEY], logger: testLogger, now: () => 1_760_000_000_000 }),
    );
    const get = (path: string, key: string | null = API_KEY) =>
      fetch(`${api.url}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} }).then(
        async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }),
      );

    try {
      const real = realSampleEvents();
      // A user with three subscriptions (pagination), plus a duplicate and a late older event.
      const userEvents: SubscriptionEvent[] = ['a', 'b', 'c'].map((x, i) => ({
        ...real[0]!,
        eventId: `app_store:user-${x}:0`,
        subscriptionKey: `app_store:user-sub-${x}`,
        appUserId: 'user-42',
        productId: `prod.${x}`,
        expiresAt: 1_770_000_000_000,
        occurredAt: 1_759_000_000_000 + i,
      }));
      const late = {
        ...real[0]!,
        eventId: 'app_store:late-renewal:0',
        occurredAt: 1_700_000_000_000,
        type: 'RENEWED' as const,
        status: 'EXPIRED' as const,
        entitled: false,
      };
      await produceEvents(kafka, names.name('subscriptionEvents'), eventCodec, [
        ...real,
        ...userEvents,
        real[4]!,
        real[9]!,
        late,
      ]);

      // A record that is not Confluent-framed Avro: dead-lettered with the reason, the rest still applied.
      const raw = kafka.producer();
      await raw.connect();
      await raw.send({
        topic: names.name('subscriptionEvents'),
        messages: [{ key: 'app_store:garbage', value: 'not avro' }],
      });
      await raw.disconnect();
      const dlq = await collect(kafka, [names.name('subscriptionEventsDlq')]);
      const [dead] = await waitForRecords(dlq.records, 1);
      await dlq.stop();
      expect(dead!.message.headers!['dlq.stage']!.toString()).toBe('decode');
      expect(dead!.message.value!.toString()).toBe('not avro');

      await waitFor('all events applied', async () => {
        const r = await pool.query('SELECT count(*)::int AS n FROM subscription_events');
        return r.rows[0].n === real.length + userEvents.length + 1 ? true : undefined;
      });

      const loki = await getState(pool, 'app_store:2000001024993299');
      expect(loki).toMatchObject({
        status: 'ACTIVE',
        entitled: true,
        productId: 'com.getsession.org.pro_sub',
        nextProductId: 'com.getsession.org.pro_sub_3_months',
        expiresAt: 1_760_335_309_000,
        renewalCount: 2,
        refundCount: 1,
        lastEventType: 'REFUNDED',
        lastEventAt: 1_760_592_122_788,
        autoRenew: true,
        store: 'APP_STORE',
        environment: 'SANDBOX',
        appId: 'com.loki-project.loki-messenger',
      });
      expect(await getState(pool, 'app_store:2000000849195831')).toMatchObject({
        status: 'REFUNDED',
        entitled: false,
        refundCount: 1,
      });
      expect(await getState(pool, 'app_store:2000000848445242')).toMatchObject({
        status: 'ACTIVE',
        entitled: true,
        productId: 'cynet.coci.1usd',
      });
      expect(await getState(pool, 'app_store:2000000492007794')).toMatchObject({
        status: 'ACTIVE',
        lastEventType: 'SUBSCRIPTION_STARTED',
      });
      expect(await getState(pool, 'app_store:app:com.nineton.taller')).toMatchObject({
        status: 'UNKNOWN',
        entitled: false,
        lastEventType: 'TEST',
      });

      // The compacted state topic carries Avro SubscriptionState, keyed by subscriptionKey.
      const states = await collect(kafka, [names.name('subscriptionState')]);
      const [lokiState] = await waitForRecords(
        states.records,
        1,
        (r) => r.message.key?.toString() === 'app_store:2000001024993299',
      );
      await states.stop();
      expect(await stateCodec.decode(lokiState!.message.value!)).toMatchObject({
        subscriptionKey: 'app_store:2000001024993299',
      });

      // Query API.
      expect((await get('/v1/subscriptions/app_store:2000001024993299', null)).status).toBe(401);
      expect((await get('/v1/subscriptions/app_store:2000001024993299', 'wrong-key-0123456789')).status).toBe(
        401,
      );
      const one = await get('/v1/subscriptions/app_store:2000001024993299');
      expect(one.status).toBe(200);
      // now (1_760_000_000_000) is before expiresAt (1_760_335_309_000): access now.
      expect(one.body.state).toMatchObject({ status: 'ACTIVE', entitledNow: true });
      const events = one.body.events as SubscriptionEvent[];
      expect(events.map((e) => e.occurredAt)).toEqual(
        [...events.map((e) => e.occurredAt)].sort((a, b) => b - a),
      );
      expect(events.map((e) => e.eventId)).toContain('app_store:late-renewal:0'); // kept in the history
      expect((await get('/v1/subscriptions/app_store:nope')).status).toBe(404);
      const page1 = await get('/v1/users/user-42/subscriptions?limit=2');
      expect(page1.status).toBe(200);
      expect((page1.body.items as { subscriptionKey: string }[]).map((s) => s.subscriptionKey)).toEqual([
        'app_store:user-sub-a',
        'app_store:user-sub-b',
      ]);
      const page2 = await get(
        `/v1/users/user-42/subscriptions?limit=2&cursor=${page1.body.nextCursor as string}`,
      );
      expect((page2.body.items as { subscriptionKey: string }[]).map((s) => s.subscriptionKey)).toEqual([
        'app_store:user-sub-c',
      ]);
      expect(page2.body.nextCursor).toBeNull();
      const ent = await get('/v1/users/user-42/entitlements');
      expect((ent.body.entitlements as { productId: string }[]).map((e) => e.productId).sort()).toEqual([
        'prod.a',
        'prod.b',
        'prod.c',
      ]);
      expect((await get('/v1/users/nobody/entitlements')).status).toBe(404);
      const badLimit = await get('/v1/users/user-42/subscriptions?limit=5000');
      expect(badLimit).toMatchObject({ status: 400, body: { error: 'bad_request' } });
      const openapi = await fetch(`${api.url}/openapi.json`).then(
        (r) => r.json() as Promise<{ openapi: string; paths: object }>,
      );
      expect(openapi.openapi).toBe('3.1.0');
      expect(Object.keys(openapi.paths)).toEqual([
        '/v1/subscriptions/{subscriptionKey}',
        '/v1/users/{appUserId}/subscriptions',
        '/v1/users/{appUserId}/entitlements',
      ]);
    } finally {
      await api.close();
      await aggregator.stop();
      await producer.disconnect();
      await pool.end();
    }
  });
});

describe('state aggregator: a Play Store scenario', () => {
  it('ends a purchase -> renewal -> cancel -> expiry lifecycle in the right state', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const { eventCodec, stateCodec } = await codecs(names);
    const { pool } = await migratedPool();
    const producer = createIdempotentProducer(kafka);
    await producer.connect();
    const aggregator = createAggregator({
      kafka,
      pool,
      producer,
      eventCodec,
      stateCodec,
      names,
      logger: testLogger,
      groupId: randomId('state'),
    });
    await aggregator.start();
    try {
      // The canonical events the Play normalizer derives for this lifecycle (diff core, fetched resources).
      const ctx = { receivedAt: 1_767_300_000_000, rawTopic: 'raw', rawPartition: 0, rawOffset: 0 };
      const steps: [number, ReturnType<typeof sub>, string][] = [
        [4, sub('ACTIVE', {}, { offerPhase: { freeTrial: {} } }), '1767261600000'],
        [
          2,
          sub('ACTIVE', {}, { expiryTime: '2026-03-01T10:00:00.000Z', latestSuccessfulOrderId: 'GPA.P..0' }),
          '1769940000000',
        ],
        [
          3,
          sub(
            'CANCELED',
            {},
            {
              expiryTime: '2026-03-01T10:00:00.000Z',
              latestSuccessfulOrderId: 'GPA.P..0',
              autoRenewingPlan: { autoRenewEnabled: false },
            },
          ),
          '1770000000000',
        ],
        [
          13,
          sub(
            'EXPIRED',
            { canceledStateContext: { userInitiatedCancellation: {} } },
            { expiryTime: '2026-03-01T10:00:00.000Z', autoRenewingPlan: { autoRenewEnabled: false } },
          ),
          '1772359200000',
        ],
      ];
      let previous: PlaySnapshot | undefined;
      const events: SubscriptionEvent[] = [];
      for (const [i, [type, resource, at]] of steps.entries()) {
        const out = diffPlay({
          notification: rtdn(type, 'tok-p', at),
          messageId: `p-${i}`,
          ctx,
          previous,
          subscription: resource,
        });
        previous = out.snapshot;
        events.push(...out.events);
      }
      expect(events.map((e) => e.type)).toEqual([
        'SUBSCRIPTION_STARTED',
        'RENEWED',
        'AUTO_RENEW_DISABLED',
        'EXPIRED',
      ]);
      // Delivered out of order: the expiry first.
      await produceEvents(kafka, names.name('subscriptionEvents'), eventCodec, [
        events[3]!,
        events[0]!,
        events[2]!,
        events[1]!,
      ]);
      const state = await waitFor('play state', async () => {
        const s = await getState(pool, 'play_store:tok-p');
        return s && s.lastEventType === 'EXPIRED' && s.renewalCount === 1 && s.firstPurchasedAt !== null
          ? s
          : undefined;
      });
      expect(state).toMatchObject({
        store: 'PLAY_STORE',
        status: 'EXPIRED',
        entitled: false,
        autoRenew: false,
        productId: 'premium',
        appUserId: 'user-7',
        renewalCount: 1,
        trialConverted: true,
        expiresAt: Date.parse('2026-03-01T10:00:00.000Z'),
      });
    } finally {
      await aggregator.stop();
      await producer.disconnect();
      await pool.end();
    }
  });
});

describe('state query API: path parameters PostgreSQL or the URL decoder cannot take', () => {
  it('answers 400 with a JSON error, never 500', async () => {
    const { pool } = await migratedPool();
    const api = await serve(createStateApi({ pool, apiKeys: [API_KEY], logger: testLogger }));
    const get = async (path: string) => {
      const res = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${API_KEY}` } });
      return { path, status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    try {
      const paths = [
        // NUL: PostgreSQL refuses it in text ("invalid byte sequence for encoding UTF8: 0x00").
        '/v1/subscriptions/%00',
        '/v1/subscriptions/app_store:1%002',
        '/v1/users/%00/subscriptions',
        '/v1/users/user-1/subscriptions?cursor=%00',
        '/v1/users/%00/entitlements',
        // Not valid percent-encoding: a truncated UTF-8 sequence, not hex, a lone surrogate.
        '/v1/subscriptions/%E0%A4%A',
        '/v1/subscriptions/%zz',
        '/v1/users/%zz/subscriptions',
        '/v1/users/%ED%A0%80/entitlements',
      ];
      const answers = [];
      for (const path of paths) answers.push(await get(path));
      expect(answers).toEqual(
        paths.map((path) => ({
          path,
          status: 400,
          body: { error: 'bad_request', message: expect.any(String) },
        })),
      );
      // The same routes still answer normally.
      expect((await get('/v1/subscriptions/app_store:nope')).status).toBe(404);
    } finally {
      await api.close();
      await pool.end();
    }
  });
});
