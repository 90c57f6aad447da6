/**
 * The fault-handling pieces one at a time, on the real stack (the chaos suite, test/chaos/, runs them all
 * together under load): registry answers classified, the receivers' bounded and per-record publisher, and
 * the normalizer's App Store dedupe by notification id.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { Registry } from 'prom-client';
import { notification } from '../kit/builders/appStore';
import { AvroCodec, codecFor, createRegistry } from '../../lib/platform/avro';
import { DependencyError, PoisonMessageError } from '../../lib/core/errors';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import { createIdempotentProducer } from '../../lib/platform/kafka';
import { KafkaPublisher, PublisherFullError } from '../../lib/platform/publisher';
import { subscriptionEventSchema } from '../../lib/core/generated/avro';
import { createNormalizer } from '../../lib/adapters/normalizer/normalizer';
import { CLAIM_MIGRATIONS, PgNotificationClaims } from '../../lib/adapters/normalizer/claims';
import { createPool, migrate } from '../../lib/platform/db';
import { createPki, signedBody } from '../kit/appleSigning';
import { stackEnv } from '../support/env';
import {
  collect,
  createCatalogTopics,
  drainTopic,
  randomId,
  testKafka,
  testLogger,
  waitFor,
} from '../support/kafka';
import { randomSchema } from '../support/state';

describe('registry answers are classified', () => {
  const unknownId = Buffer.from([0, 0x7f, 0xff, 0xff, 0x01, 2]);

  it('an id the registry does not have is poison (dead-lettered), not retried forever', async () => {
    const codec = new AvroCodec(
      createRegistry(stackEnv().registryUrl),
      randomId('s'),
      subscriptionEventSchema,
    );
    const err = await codec.decode(unknownId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PoisonMessageError);
    expect((err as Error).message).toMatch(/unknown schema id 2147483393/);
  });

  it('a registry that does not answer is a dependency outage (pause and retry), not poison', async () => {
    const codec = new AvroCodec(
      createRegistry('http://127.0.0.1:1/apis/ccompat/v7'),
      's',
      subscriptionEventSchema,
    );
    const err = await codec.decode(unknownId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyError);
    expect((err as DependencyError).dependency).toBe('registry');
  });
});

describe('receiver publisher', () => {
  it('one record with a non-string key fails alone; its batch neighbours are stored', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const topic = names.name('rawAppStore');
    const publisher = new KafkaPublisher({
      createProducer: () => createIdempotentProducer(kafka),
      timeoutMs: 5000,
      logger: testLogger,
    });
    await publisher.start();
    try {
      const record = (i: number, key: unknown) => ({
        topic,
        key: key as string,
        value: Buffer.from(`v${i}`),
        headers: { n: String(i) },
      });
      const results = await Promise.allSettled([
        ...Array.from({ length: 30 }, (_, i) => publisher.publish(record(i, `k${i}`))),
        publisher.publish(record(99, 700000000001)), // what a JSON number in a receipt used to become
      ]);
      expect(results.slice(0, 30).every((r) => r.status === 'fulfilled')).toBe(true);
      expect(results[30]).toMatchObject({ status: 'rejected', reason: { retriable: false } });
      expect((await drainTopic(kafka, topic)).length).toBe(30);
    } finally {
      await publisher.stop();
    }
  });

  it('a full queue answers at once (503), and nothing waits unbounded while Kafka is away', async () => {
    // A cluster that never answers: "down" for as long as the test runs.
    const dead = new Kafka({ brokers: ['127.0.0.1:1'], retry: { retries: 0 }, logLevel: logLevel.NOTHING });
    const publisher = new KafkaPublisher({
      createProducer: () => createIdempotentProducer(dead),
      timeoutMs: 60_000,
      maxQueueRecords: 5,
      logger: testLogger,
    });
    await publisher.start().catch(() => undefined);
    const rec = (i: number) => ({ topic: 't', key: `k${i}`, value: Buffer.from('x'), headers: {} });
    const waiting = Array.from({ length: 5 }, (_, i) => publisher.publish(rec(i)).catch((e: unknown) => e));
    const t0 = Date.now();
    const full = await publisher.publish(rec(6)).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(PublisherFullError);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(publisher.readiness().ready).toBe(false);
    await publisher.stop();
    expect((await Promise.all(waiting)).every((e) => e instanceof Error)).toBe(true);
  });
});

describe('normalizer: one event set per App Store notification', () => {
  it('the same notification stored twice on the raw topic (a retried 503 that was stored) yields its events once', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const codec = codecFor<SubscriptionEvent>(
      createRegistry(stackEnv().registryUrl),
      names,
      'subscriptionEvents',
    );
    await codec.register();
    const metrics = new Registry();
    const schema = randomSchema();
    const pool = createPool(stackEnv().databaseUrl, schema);
    await migrate(pool, schema, CLAIM_MIGRATIONS);
    const normalizer = createNormalizer({
      kafka,
      logger: testLogger,
      names,
      codec,
      groupId: randomId('norm'),
      transactionalIdPrefix: randomId('norm-tx'),
      claims: new PgNotificationClaims(pool),
      metrics,
    });
    const pki = await createPki();
    const producer = kafka.producer();
    await producer.connect();
    const ids = Array.from({ length: 5 }, () => randomUUID());
    const bodies = ids.map((id) => {
      const n = notification('DID_RENEW', undefined, { tx: { originalTransactionId: `9${id.slice(0, 8)}` } });
      n.payload.notificationUUID = id;
      return { key: `9${id.slice(0, 8)}`, value: signedBody(n, pki), headers: { format: 'app-store-v2' } };
    });
    // Every notification twice, the copies in later requests, as a store retry would write them.
    await producer.send({ topic: names.name('rawAppStore'), acks: -1, messages: bodies });
    await producer.send({ topic: names.name('rawAppStore'), acks: -1, messages: bodies });
    await producer.disconnect();
    const live = await collect(kafka, [names.name('subscriptionEvents')]);
    try {
      await normalizer.start();
      await waitFor(
        'both copies consumed',
        async () => {
          const m = await metrics.getSingleMetric('storeline_normalizer_records_consumed_total')?.get();
          return (m?.values ?? []).reduce((n, v) => n + v.value, 0) >= 10 ? true : undefined;
        },
        60_000,
      );
      const all = await drainTopic(kafka, names.name('subscriptionEvents'));
      const eventIds = all.map((r) => r.message.headers?.['event-id']?.toString());
      expect(eventIds.sort()).toEqual(ids.map((id) => `app_store:${id}:0`).sort());
    } finally {
      await live.stop();
      await normalizer.stop();
      await pool.end();
    }
  });
});
