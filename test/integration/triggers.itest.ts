/**
 * churn-triggers on the real stack with short configured delays: immediate triggers, a delayed win-back
 * that fires, one cancelled by a resubscribe, and a restart while a timer is pending past its due time
 * (it fires on recovery, once). Triggers land on the topic as Avro through the registry.
 */
import { codecFor, createRegistry } from '../../services/shared/avro';
import { createPool, migrate } from '../../services/shared/db';
import type { EngagementTrigger, SubscriptionEvent } from '../../services/shared/generated/avro';
import { createIdempotentProducer } from '../../services/shared/kafka';
import { type TopicNames } from '../../services/shared/topics';
import { Rules } from '../../services/triggers/rules';
import { createTriggerService } from '../../services/triggers/service';
import { TRIGGER_MIGRATIONS } from '../../services/triggers/store';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { stackEnv } from '../support/env';
import {
  collect,
  createCatalogTopics,
  drainTopic,
  randomId,
  testKafka,
  testLogger,
  waitFor,
  waitForRecords,
} from '../support/kafka';
import { codecs, produceEvents, randomSchema, realSampleEvents } from '../support/state';

const rules = Rules.parse({
  fireInSandbox: true,
  winbackOffer: { delaySeconds: 2 },
  cancellationSaveOffer: { delaySeconds: 0 },
});

function event(
  type: SubscriptionEvent['type'],
  key: string,
  user: string,
  over: Partial<SubscriptionEvent> = {},
): SubscriptionEvent {
  return {
    ...realSampleEvents()[0]!,
    eventId: `app_store:${randomId('n')}:0`,
    type,
    subscriptionKey: key,
    appUserId: user,
    occurredAt: Date.now(),
    ...over,
  };
}

async function startService(kafka: Kafka, names: TopicNames, pool: Pool, groupId: string) {
  const { eventCodec } = await codecs(names);
  const triggerCodec = codecFor<EngagementTrigger>(
    createRegistry(stackEnv().registryUrl),
    names,
    'engagementTriggers',
  );
  await triggerCodec.register();
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  const service = createTriggerService({
    kafka,
    pool,
    producer,
    eventCodec,
    triggerCodec,
    names,
    rules,
    groupId,
    logger: testLogger,
    pollIntervalMs: 100,
  });
  await service.start();
  return {
    triggerCodec,
    stop: async () => {
      await service.stop();
      await producer.disconnect();
    },
  };
}

describe('churn triggers (real Kafka, registry, PostgreSQL)', () => {
  it('fires immediate and delayed triggers, and a resubscribe cancels a pending win-back', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const { eventCodec } = await codecs(names);
    const schema = randomSchema();
    const pool = createPool(stackEnv().databaseUrl, schema);
    await migrate(pool, schema, TRIGGER_MIGRATIONS);
    const svc = await startService(kafka, names, pool, randomId('trig'));
    const sink = await collect(kafka, [names.name('engagementTriggers')]);
    try {
      // B expires and comes back at once; A expires afterwards. A's win-back is due after B's would be.
      const bExpired = event('EXPIRED', 'app_store:B', 'user-b', {
        reason: 'VOLUNTARY',
        status: 'EXPIRED',
        entitled: false,
      });
      await produceEvents(kafka, names.name('subscriptionEvents'), eventCodec, [
        bExpired,
        event('SUBSCRIPTION_STARTED', 'app_store:B', 'user-b', { isResubscribe: true }),
      ]);
      await waitFor('B win-back cancelled', async () => {
        const r = await pool.query(`SELECT status FROM trigger_outbox WHERE trigger_id = $1`, [
          `WINBACK_OFFER:app_store:B:${bExpired.eventId}`,
        ]);
        return r.rows[0]?.status === 'cancelled' ? true : undefined;
      });
      const aExpired = event('EXPIRED', 'app_store:A', 'user-a', {
        reason: 'BILLING_ERROR',
        status: 'EXPIRED',
        entitled: false,
      });
      await produceEvents(kafka, names.name('subscriptionEvents'), eventCodec, [aExpired]);
      const [winback] = await waitForRecords(
        sink.records,
        1,
        (r) => r.message.key?.toString() === 'app_store:A',
        30_000,
      );
      const t = await svc.triggerCodec.decode(winback!.message.value!);
      expect(t).toMatchObject({
        kind: 'WINBACK_OFFER',
        triggerId: `WINBACK_OFFER:app_store:A:${aExpired.eventId}`,
        appUserId: 'user-a',
        cause: { eventId: aExpired.eventId, eventType: 'EXPIRED' },
      });
      expect(t.firedAt).toBeGreaterThanOrEqual(t.dueAt);
      expect(t.dueAt - aExpired.occurredAt).toBeGreaterThanOrEqual(2000);
    } finally {
      await sink.stop();
      await svc.stop();
    }
    const all = await Promise.all(
      (await drainTopic(kafka, names.name('engagementTriggers'))).map((r) =>
        svc.triggerCodec.decode(r.message.value!),
      ),
    );
    expect(all.map((x) => `${x.kind}@${x.subscriptionKey}`).sort()).toEqual([
      'WELCOME@app_store:B',
      'WINBACK_OFFER@app_store:A',
    ]);
    await pool.end();
  });

  it('a restart with a pending timer past its due time loses none and fires none twice', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const { eventCodec } = await codecs(names);
    const schema = randomSchema();
    const pool = createPool(stackEnv().databaseUrl, schema);
    await migrate(pool, schema, TRIGGER_MIGRATIONS);
    const groupId = randomId('trig');
    const first = await startService(kafka, names, pool, groupId);
    const expired = event('EXPIRED', 'app_store:C', 'user-c', {
      reason: 'VOLUNTARY',
      status: 'EXPIRED',
      entitled: false,
    });
    const saveOffer = event('AUTO_RENEW_DISABLED', 'app_store:D', 'user-d');
    await produceEvents(kafka, names.name('subscriptionEvents'), eventCodec, [saveOffer, expired]);
    const due = await waitFor('C win-back scheduled', async () => {
      const r = await pool.query(`SELECT due_at, status FROM trigger_outbox WHERE kind = 'WINBACK_OFFER'`);
      return r.rows[0]?.status === 'pending' ? Number(r.rows[0].due_at) : undefined;
    });
    await first.stop();
    // Down at the due time.
    await waitFor('due time passed while down', () => (Date.now() > due + 200 ? true : undefined), 10_000);
    expect(
      (await pool.query(`SELECT status FROM trigger_outbox WHERE kind = 'WINBACK_OFFER'`)).rows[0].status,
    ).toBe('pending');

    const second = await startService(kafka, names, pool, groupId);
    try {
      await waitFor('fired after recovery', async () => {
        const r = await pool.query(`SELECT status FROM trigger_outbox WHERE kind = 'WINBACK_OFFER'`);
        return r.rows[0]?.status === 'sent' ? true : undefined;
      });
    } finally {
      await second.stop();
    }
    const all = await Promise.all(
      (await drainTopic(kafka, names.name('engagementTriggers'))).map((r) =>
        second.triggerCodec.decode(r.message.value!),
      ),
    );
    expect(all.map((x) => x.kind).sort()).toEqual(['CANCELLATION_SAVE_OFFER', 'WINBACK_OFFER']);
    expect(new Set(all.map((x) => x.triggerId)).size).toBe(2);
    await pool.end();
  });
});
