/**
 * churn-triggers on the real stack with short configured delays: immediate triggers, a delayed win-back
 * that fires, one cancelled by a resubscribe, cancellations that reach only what their rule's scope names
 * (two subscriptions of one user), and a restart while a timer is pending past its due time (it fires on
 * recovery, once, before the consumer has joined its group). Triggers land on the topic as Avro through the
 * registry.
 */
import { codecFor, createRegistry } from '../../lib/platform/avro';
import { createPool, migrate } from '../../lib/platform/db';
import type { EngagementTrigger, SubscriptionEvent, TriggerKind } from '../../lib/core/generated/avro';
import { createIdempotentProducer } from '../../lib/platform/kafka';
import { type TopicNames } from '../../lib/core/topics';
import { Rules } from '../../lib/core/triggers/rules';
import { createTriggerService } from '../../lib/adapters/triggers/service';
import type { CancelTarget } from '../../lib/core/triggers/decide';
import { applyDecision, TRIGGER_MIGRATIONS } from '../../lib/adapters/triggers/store';
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

const POLL_MS = 100;
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

async function createService(
  kafka: Kafka,
  names: TopicNames,
  pool: Pool,
  groupId: string,
  serviceRules: Rules = rules,
) {
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
    rules: serviceRules,
    groupId,
    logger: testLogger,
    pollIntervalMs: POLL_MS,
  });
  return {
    service,
    triggerCodec,
    stop: async () => {
      await service.stop();
      await producer.disconnect();
    },
  };
}

async function startService(kafka: Kafka, names: TopicNames, pool: Pool, groupId: string, r?: Rules) {
  const svc = await createService(kafka, names, pool, groupId, r);
  await svc.service.start();
  return svc;
}

async function freshPool(): Promise<Pool> {
  const schema = randomSchema();
  const pool = createPool(stackEnv().databaseUrl, schema);
  await migrate(pool, schema, TRIGGER_MIGRATIONS);
  return pool;
}

async function statusOf(pool: Pool, triggerId: string): Promise<string | undefined> {
  const r = await pool.query<{ status: string }>('SELECT status FROM trigger_outbox WHERE trigger_id = $1', [
    triggerId,
  ]);
  return r.rows[0]?.status;
}

/**
 * Joins `groupId` with a member that then stops heartbeating without leaving, like an instance that hung or
 * crashed: until it is released (or its 60 s session and rebalance timeouts pass) no other member can finish
 * joining the group, because the coordinator waits for every known member to rejoin.
 */
async function holdGroup(kafka: Kafka, topic: string, groupId: string, poke: () => Promise<void>) {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 60_000, rebalanceTimeout: 60_000 });
  let open = () => {};
  const gate = new Promise<void>((r) => (open = r));
  let stuck = false;
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  // kafkajs heartbeats between batches only: a batch that does not return stops the heartbeats.
  await consumer.run({
    eachBatch: async () => {
      stuck = true;
      await gate;
    },
  });
  await poke();
  await waitFor('holder stuck in a batch', () => stuck || undefined, 30_000);
  let released: Promise<void> | undefined;
  const release = async () => {
    open();
    await consumer.disconnect();
  };
  return { release: () => (released ??= release()) };
}

describe('trigger outbox: a cancellation reaches other subscriptions only with user scope (PostgreSQL)', () => {
  const U = 'user-u';
  const trigger = (
    kind: TriggerKind,
    subscriptionKey: string,
    appUserId: string | null,
  ): EngagementTrigger => ({
    triggerId: `${kind}:${subscriptionKey}:${appUserId ?? 'no-user'}`,
    kind,
    subscriptionKey,
    appUserId,
    appId: 'com.example.app',
    store: 'APP_STORE',
    environment: 'PRODUCTION',
    dueAt: Date.now() + 3_600_000,
    firedAt: Date.now() + 3_600_000,
    cause: { eventId: 'e', eventType: 'EXPIRED' },
    context: {},
  });
  const pending = [
    trigger('WINBACK_OFFER', 'P', U),
    trigger('CANCELLATION_SAVE_OFFER', 'P', U),
    trigger('WINBACK_OFFER', 'P', null), // decided before the user was known
    trigger('WINBACK_OFFER', 'Q', U),
    trigger('CANCELLATION_SAVE_OFFER', 'Q', U),
    trigger('WINBACK_OFFER', 'X', 'user-v'),
  ];
  const rows: [string, CancelTarget, string[]][] = [
    [
      'subscription scope: P only, whatever its user',
      { scope: 'subscription', kinds: ['WINBACK_OFFER', 'CANCELLATION_SAVE_OFFER'], subscriptionKey: 'P' },
      ['CANCELLATION_SAVE_OFFER:P:user-u', 'WINBACK_OFFER:P:no-user', 'WINBACK_OFFER:P:user-u'],
    ],
    [
      "user scope: P and the user's other subscriptions, of the kinds named",
      { scope: 'user', kinds: ['WINBACK_OFFER'], subscriptionKey: 'P', appUserId: U },
      ['WINBACK_OFFER:P:no-user', 'WINBACK_OFFER:P:user-u', 'WINBACK_OFFER:Q:user-u'],
    ],
  ];
  let pool: Pool;
  beforeAll(async () => {
    pool = await freshPool();
  });
  afterAll(() => pool.end());

  it.each(rows)('%s', async (_n, target, cancelled) => {
    const c = await pool.connect();
    try {
      // Each case in its own transaction, rolled back: every case starts from the same pending rows.
      await c.query('BEGIN');
      await applyDecision(c, { emit: [], schedule: pending, cancel: [] });
      await applyDecision(c, { emit: [], schedule: [], cancel: [target] });
      const r = await c.query<{ trigger_id: string; status: string }>(
        'SELECT trigger_id, status FROM trigger_outbox',
      );
      const withStatus = (st: string) =>
        r.rows
          .filter((x) => x.status === st)
          .map((x) => x.trigger_id)
          .sort();
      expect(withStatus('cancelled')).toEqual(cancelled);
      expect(withStatus('pending')).toHaveLength(pending.length - cancelled.length);
    } finally {
      await c.query('ROLLBACK');
      c.release();
    }
  });
});

describe('churn triggers (real Kafka, registry, PostgreSQL)', () => {
  it('fires immediate and delayed triggers, and a resubscribe cancels a pending win-back', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const { eventCodec } = await codecs(names);
    const pool = await freshPool();
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

  it("two subscriptions of one user keep each other's pending triggers, except win-backs (user scope)", async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const { eventCodec } = await codecs(names);
    const pool = await freshPool();
    const scoped = Rules.parse({
      fireInSandbox: true,
      // Long delays: everything stays pending, so only cancellations change a status.
      cancellationSaveOffer: { delaySeconds: 3600, cancelScope: 'subscription' },
      winbackOffer: { delaySeconds: 3600, cancelScope: 'user' },
      priceIncreaseConsentReminder: { cancelScope: 'subscription' },
    });
    const svc = await startService(kafka, names, pool, randomId('trig'), scoped);
    const [U, P, Q] = ['user-u', 'app_store:P', 'app_store:Q'];
    const id = (kind: TriggerKind, e: SubscriptionEvent) => `${kind}:${e.subscriptionKey}:${e.eventId}`;
    // P and Q are keyed to different partitions: wait for each step to be applied so the order is ours.
    const send = async (...events: SubscriptionEvent[]) => {
      await produceEvents(kafka, names.name('subscriptionEvents'), eventCodec, events);
      await waitFor('events applied', async () => {
        const r = await pool.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM trigger_events WHERE event_id = ANY($1)',
          [events.map((e) => e.eventId)],
        );
        return r.rows[0]?.n === events.length ? true : undefined;
      });
    };
    const statuses = async (ids: Record<string, string>) =>
      Object.fromEntries(
        await Promise.all(Object.entries(ids).map(async ([name, tid]) => [name, await statusOf(pool, tid)])),
      );
    const expired = { reason: 'VOLUNTARY', status: 'EXPIRED', entitled: false } as const;
    const renewsInAMonth = { expiresAt: Date.now() + 30 * 86_400_000 };
    try {
      const pOff = event('AUTO_RENEW_DISABLED', P, U, { autoRenew: false });
      const pPrice = event('PRICE_INCREASE_PENDING', P, U, renewsInAMonth);
      await send(pOff, pPrice);
      const saveP = id('CANCELLATION_SAVE_OFFER', pOff);
      const reminderP = id('PRICE_INCREASE_CONSENT_REMINDER', pPrice);
      expect(await statuses({ saveP, reminderP })).toEqual({ saveP: 'pending', reminderP: 'pending' });

      // Q expires: P's save offer and price reminder are about P.
      const qExpired = event('EXPIRED', Q, U, expired);
      await send(qExpired);
      const winbackQ = id('WINBACK_OFFER', qExpired);
      expect(await statuses({ saveP, reminderP, winbackQ })).toEqual({
        saveP: 'pending',
        reminderP: 'pending',
        winbackQ: 'pending',
      });

      // Q comes back (and gets a price increase): its own win-back goes, P's save offer stays.
      const qPrice = event('PRICE_INCREASE_PENDING', Q, U, renewsInAMonth);
      await send(event('SUBSCRIPTION_STARTED', Q, U, { isResubscribe: true }), qPrice);
      const reminderQ = id('PRICE_INCREASE_CONSENT_REMINDER', qPrice);
      expect(await statuses({ saveP, reminderP, winbackQ, reminderQ })).toEqual({
        saveP: 'pending',
        reminderP: 'pending',
        winbackQ: 'cancelled',
        reminderQ: 'pending',
      });

      // P expires: P's own save offer and reminder go, Q's reminder stays.
      const pExpired = event('EXPIRED', P, U, expired);
      await send(pExpired);
      const winbackP = id('WINBACK_OFFER', pExpired);
      expect(await statuses({ saveP, reminderP, winbackP, reminderQ })).toEqual({
        saveP: 'cancelled',
        reminderP: 'cancelled',
        winbackP: 'pending',
        reminderQ: 'pending',
      });

      // Q renews: the user is still a customer, so P's win-back (user scope) goes; Q's reminder stays.
      await send(event('RENEWED', Q, U));
      expect(await statuses({ winbackP, reminderQ })).toEqual({
        winbackP: 'cancelled',
        reminderQ: 'pending',
      });
    } finally {
      await svc.stop();
      await pool.end();
    }
  });

  it('a restart publishes a trigger that came due while down before the consumer joins, and only once', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const { eventCodec } = await codecs(names);
    const pool = await freshPool();
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

    // The group is held by a member that stopped heartbeating (as after a crash): the restarted consumer
    // cannot join for 60 s, so the win-back is sent in time only if publishing does not wait for the group.
    const holder = await holdGroup(kafka, names.name('subscriptionEvents'), groupId, () =>
      produceEvents(kafka, names.name('subscriptionEvents'), eventCodec, [
        event('TEST', 'app_store:E', 'user-e'),
      ]),
    );
    const second = await createService(kafka, names, pool, groupId);
    let joinedAt: number | undefined;
    second.service.consumer.on(second.service.consumer.events.GROUP_JOIN, () => (joinedAt = Date.now()));
    const restartedAt = Date.now();
    const starting = second.service.start();
    try {
      // The first poll runs at start; the bound is far above one poll interval only because the machine is
      // shared, and far below the 60 s the held group delays a join.
      const sentAt = await waitFor(
        'fired after restart',
        async () => {
          const r = await pool.query(
            `SELECT status, sent_at FROM trigger_outbox WHERE kind = 'WINBACK_OFFER'`,
          );
          return r.rows[0]?.status === 'sent' ? Number(r.rows[0].sent_at) : undefined;
        },
        5_000,
      );
      expect(sentAt - restartedAt).toBeLessThan(5_000);
      expect(joinedAt).toBeUndefined();
      await holder.release();
      await starting;
      expect(joinedAt).toBeGreaterThanOrEqual(sentAt);
    } finally {
      await holder.release();
      await starting.catch(() => undefined);
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
