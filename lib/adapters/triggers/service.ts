/**
 * churn-triggers: consumes the canonical topic (own group); per batch, one PostgreSQL transaction records
 * each new event, loads its history, decides (pure) and writes the decision to the outbox; kafkajs then
 * commits offsets. A publisher loop sends due outbox rows as Avro EngagementTriggers and marks them sent.
 * The publisher starts before the consumer: it needs no partitions (rows are claimed with SKIP LOCKED), and
 * joining the group can take up to the session timeout after a crash, which due triggers must not wait for.
 * Delivery to the topic is at-least-once: a crash between the send and the mark re-sends the same
 * triggerId, which consumers dedupe on.
 */
import type { Kafka, Producer } from 'kafkajs';
import type { Pool } from 'pg';
import { Counter, type Registry } from 'prom-client';
import type { AvroCodec } from '../../platform/avro';
import { CanonicalConsumer, type CanonicalBatch } from '../../platform/canonicalConsumer';
import type { GuardTuning } from '../../platform/consumerGuard';
import { inTransaction } from '../../platform/db';
import type { EngagementTrigger, SubscriptionEvent } from '../../core/generated/avro';
import type { Logger } from '../../platform/logger';
import type { TopicNames } from '../../core/topics';
import { decide } from '../../core/triggers/decide';
import type { Rules } from '../../core/triggers/rules';
import { applyDecision, loadHistory, lockDue, markApplied, markSent } from './store';

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
    handle: (batch) => decideBatch(batch),
  });
  const topic = deps.names.name('engagementTriggers');
  let timer: NodeJS.Timeout | undefined;
  let publishing: Promise<void> = Promise.resolve();
  let stopped = false;

  async function publishDue(): Promise<number> {
    return inTransaction(deps.pool, async (c) => {
      const at = now();
      const due = await lockDue(c, at, 200);
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
      .catch((err) => deps.logger.error({ err }, 'publishing due triggers failed; retrying'))
      .then(() => {
        if (!stopped) timer = setTimeout(loop, deps.pollIntervalMs ?? 500);
      });
  };

  const haltPublisher = async () => {
    stopped = true;
    clearTimeout(timer);
    await publishing;
  };

  const decideBatch = async (batch: CanonicalBatch): Promise<void> => {
    const { events } = await batch.decode(deps.eventCodec, deps.names.dlqOf('subscriptionEvents') as string);
    await inTransaction(deps.pool, async (c) => {
      for (const e of events) {
        if (!(await markApplied(c, e.eventId))) continue;
        const at = now();
        const history = await loadHistory(c, e, at, deps.rules.refundAbuseSuspected.windowDays);
        await applyDecision(c, decide(e, history, at, deps.rules));
      }
    });
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
