/**
 * State aggregator consumer. Per fetched batch (one partition): decode the canonical events (undecodable
 * ones go to the canonical DLQ), apply them in ONE PostgreSQL transaction (history + states; a repeated
 * eventId changes nothing), publish the touched subscriptions' states to the compacted state topic, and
 * only then let kafkajs commit the offsets. A crash at any point re-delivers the batch: the database
 * ignores what it already applied and the states are published again (a compacted topic absorbs that).
 */
import type { Kafka, Producer } from 'kafkajs';
import type { Pool } from 'pg';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { AvroCodec } from '../../platform/avro';
import { inTransaction } from '../../platform/db';
import type { SubscriptionEvent, SubscriptionState } from '../../core/generated/avro';
import type { Logger } from '../../platform/logger';
import type { TopicNames } from '../../core/topics';
import { CanonicalConsumer, type CanonicalBatch } from '../../platform/canonicalConsumer';
import type { GuardTuning } from '../../platform/consumerGuard';
import { applyEvents } from './store';

export interface AggregatorDeps {
  kafka: Kafka;
  pool: Pool;
  producer: Producer;
  eventCodec: AvroCodec<SubscriptionEvent>;
  stateCodec: AvroCodec<SubscriptionState>;
  names: TopicNames;
  groupId: string;
  logger: Logger;
  metrics?: Registry;
  now?: () => number;
  fromBeginning?: boolean;
  sessionTimeoutMs?: number;
  guard?: GuardTuning;
}

export function createAggregator(deps: AggregatorDeps) {
  const now = deps.now ?? Date.now;
  const eventsTopic = deps.names.name('subscriptionEvents');
  const dlqTopic = deps.names.dlqOf('subscriptionEvents') as string;
  const stateTopic = deps.names.name('subscriptionState');
  const registers = deps.metrics ? [deps.metrics] : [];
  const applied = new Counter({
    name: 'storeline_state_events_consumed_total',
    help: 'Canonical events consumed',
    registers,
  });
  const dead = new Counter({
    name: 'storeline_state_dlq_total',
    help: 'Canonical records dead-lettered',
    registers,
  });
  const latency = new Histogram({
    name: 'storeline_state_batch_seconds',
    help: 'Time to apply one batch (decode, database transaction, state publication)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });

  async function handle(batch: CanonicalBatch): Promise<void> {
    const stop = latency.startTimer();
    const { events, deadLettered } = await batch.decode(deps.eventCodec, dlqTopic);
    if (deadLettered) dead.inc(deadLettered);
    const { states, removed } = await inTransaction(deps.pool, (c) => applyEvents(c, events, now()));
    if (states.length + removed.length > 0) {
      await deps.producer.send({
        topic: stateTopic,
        acks: -1,
        messages: [
          ...states.map((s) => ({ key: s.subscriptionKey, value: deps.stateCodec.encode(s) })),
          // A subscription whose every event a correction retracted: a tombstone, so compaction forgets it.
          ...removed.map((key) => ({ key, value: null })),
        ],
      });
    }
    applied.inc(events.length);
    stop();
  }

  const loop = new CanonicalConsumer({
    ...deps,
    component: 'state-aggregator',
    topics: [eventsTopic],
    now,
    handle,
  });
  return {
    consumer: loop.consumer,
    readiness: () => loop.readiness(),
    start: () => loop.start(),
    stop: () => loop.stop(),
  };
}
