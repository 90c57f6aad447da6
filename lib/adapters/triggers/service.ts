/**
 * churn-triggers: consumes the canonical topic (own group); per batch, one PostgreSQL transaction records
 * the new events, loads their history, decides (pure, in order) and writes the decisions to the outbox, in
 * a fixed number of set-based statements; kafkajs then commits offsets. A publisher loop sends due outbox rows as Avro EngagementTriggers and marks them sent.
 * The publisher starts before the consumer: it needs no partitions (rows are claimed with SKIP LOCKED), and
 * joining the group can take up to the session timeout after a crash, which due triggers must not wait for.
 * Delivery to the topic is at-least-once: a crash between the send and the mark re-sends the same
 * triggerId, which consumers dedupe on.
 */
import type { Kafka, Producer } from 'kafkajs';
import type { Pool, PoolClient } from 'pg';
import { Counter, type Registry } from 'prom-client';
import type { AvroCodec } from '../../platform/avro';
import { CanonicalConsumer, type CanonicalBatch } from '../../platform/canonicalConsumer';
import type { GuardTuning } from '../../platform/consumerGuard';
import { inTransaction } from '../../platform/db';
import type { EngagementTrigger, SubscriptionEvent } from '../../core/generated/avro';
import type { Logger } from '../../platform/logger';
import type { TopicNames } from '../../core/topics';
import { decideBatch, HISTORY_MS } from '../../core/triggers/batch';
import type { Rules } from '../../core/triggers/rules';
import { loadStored, lockDue, markApplied, markSent, recordRefunds, writeOutbox } from './store';

export interface TriggerServiceDeps {
  kafka: Kafka;
  pool: Pool;
  producer: Producer;
  eventCodec: AvroCodec<SubscriptionEvent>;
  triggerCodec: AvroCodec<EngagementTrigger>;
  names: TopicNames;
  rules: Rules;
  groupId: string;
  logger: Logger;
  metrics?: Registry;
  pollIntervalMs?: number;
  now?: () => number;
  sessionTimeoutMs?: number;
  guard?: GuardTuning;
}

/** Due triggers one publisher transaction sends (one Kafka request, one UPDATE). */
const PUBLISH_BATCH = 500;

export function createTriggerService(deps: TriggerServiceDeps) {
  const now = deps.now ?? Date.now;
  const registers = deps.metrics ? [deps.metrics] : [];
  const fired = new Counter({
    name: 'storeline_triggers_fired_total',
    help: 'Engagement triggers sent',
    labelNames: ['kind'],
    registers,
  });
  const consumerLoop = new CanonicalConsumer({
    ...deps,
    component: 'churn-triggers',
    topics: [deps.names.name('subscriptionEvents')],
    now,
    handle: (batch) => handleBatch(batch),
  });
  const topic = deps.names.name('engagementTriggers');
  let timer: NodeJS.Timeout | undefined;
  let publishing: Promise<void> = Promise.resolve();
  let stopped = false;

  async function publishDue(): Promise<number> {
    return inTransaction(deps.pool, async (c) => {
      const at = now();
      const due = await lockDue(c, at, PUBLISH_BATCH);
      if (due.length === 0) return 0;
      await deps.producer.send({
        topic,
        acks: -1,
        messages: due.map((t) => ({
          key: t.subscriptionKey,
          value: deps.triggerCodec.encode({ ...t, firedAt: at }),
          headers: { 'trigger-id': t.triggerId },
        })),
      });
      await markSent(
        c,
        due.map((t) => t.triggerId),
        at,
      );
      for (const t of due) fired.inc({ kind: t.kind });
      return due.length;
    });
  }

  const loop = () => {
    if (stopped) return;
    publishing = publishDue()
      .catch((err) => {
        deps.logger.error({ err }, 'publishing due triggers failed; retrying');
        return 0;
      })
      .then((sent) => {
        // A full batch means more may be due: go on at once rather than one batch per poll interval.
        if (!stopped) timer = setTimeout(loop, sent >= PUBLISH_BATCH ? 0 : (deps.pollIntervalMs ?? 500));
      });
  };

  const haltPublisher = async () => {
    stopped = true;
    clearTimeout(timer);
    await publishing;
  };

  const handleBatch = async (batch: CanonicalBatch): Promise<void> => {
    const { events } = await batch.decode(deps.eventCodec, deps.names.dlqOf('subscriptionEvents') as string);
    if (events.length === 0) return;
    await inTransaction(deps.pool, (c) => applyBatch(c, events));
  };

  /**
   * A fixed number of set-based statements per batch, whatever its size: record the events, store refunds
   * and count earlier ones, read the outbox rows the batch can see, then cancel and insert in one statement.
   * The pure decideBatch decides the events in order as if each had been written before the next.
   */
  const applyBatch = async (c: PoolClient, events: SubscriptionEvent[]): Promise<void> => {
    const applied = await markApplied(
      c,
      events.map((e) => e.eventId),
    );
    // First occurrence of each event applied now (a redelivery, or a repeat inside the batch, adds nothing).
    const fresh = events.filter((e) => applied.delete(e.eventId));
    if (fresh.length === 0) return;
    const windowMs = deps.rules.refundAbuseSuspected.windowDays * 86_400_000;
    const withUser = fresh.filter((e) => e.appUserId);
    const counts = await recordRefunds(
      c,
      withUser
        .filter((e) => e.type === 'REFUNDED')
        .map((e) => ({ eventId: e.eventId, appUserId: e.appUserId!, occurredAt: e.occurredAt })),
      withUser.map((e) => ({ appUserId: e.appUserId!, since: e.occurredAt - windowMs })),
    );
    const refundsOf = new Map(withUser.map((e, i) => [e, counts[i] ?? 0]));
    const stored = await loadStored(
      c,
      [...new Set(fresh.map((e) => e.subscriptionKey))],
      [...new Set(fresh.flatMap((e) => (e.appUserId === null ? [] : [e.appUserId])))],
      now() - HISTORY_MS,
    );
    const items = fresh.map((event) => ({ event, storedRefunds: refundsOf.get(event) ?? 0, now: now() }));
    const result = decideBatch(items, stored, deps.rules);
    await writeOutbox(c, result.cancel, result.inserts);
  };

  return {
    consumer: consumerLoop.consumer,
    publishDue,
    readiness: () => consumerLoop.readiness(),
    /** Publishes due triggers at once, then joins the group (which may take up to the session timeout). */
    async start(): Promise<void> {
      loop();
      try {
        await consumerLoop.start();
      } catch (err) {
        // A service that failed to start must not keep publishing behind its caller's back.
        await haltPublisher();
        throw err;
      }
    },
    async stop(): Promise<void> {
      await haltPublisher();
      await consumerLoop.stop();
    },
  };
}
