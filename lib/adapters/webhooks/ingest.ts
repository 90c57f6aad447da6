/**
 * The fan-out's ingest: each fetched batch of canonical events (and engagement triggers, when enabled)
 * becomes one message per record and one delivery per matching endpoint, written in one transaction before
 * the offsets are committed, so a crash re-reads and the unique (endpoint, message) pair makes that harmless.
 */
import type { KafkaMessage, Producer } from 'kafkajs';
import type { Pool } from 'pg';
import type { AvroCodec } from '../../platform/avro';
import { decodeCanonicalBatch } from '../../platform/canonicalBatch';
import { inTransaction } from '../../platform/db';
import type { Logger } from '../../platform/logger';
import type { EngagementTrigger, SubscriptionEvent } from '../../core/generated/avro';
import type { TopicNames } from '../../core/topics';
import { fromEvent, fromTrigger, matches, type WebhookMessage } from '../../core/webhooks/messages';
import type { FanoutMetrics } from './metrics';
import { enqueue } from './store/deliveries';
import { listEndpoints } from './store/endpoints';

export interface FanoutIngestDeps {
  pool: Pool;
  producer: Producer;
  eventCodec: AvroCodec<SubscriptionEvent>;
  triggerCodec?: AvroCodec<EngagementTrigger> | undefined;
  names: TopicNames;
  logger: Logger;
  now: () => number;
  metrics: FanoutMetrics;
  /** Called when a batch created deliveries: the dispatcher has work. */
  onCreated: () => void;
}

export function createFanoutIngest(deps: FanoutIngestDeps) {
  const triggersTopic = deps.names.name('engagementTriggers');

  async function toMessages(
    topic: string,
    partition: number,
    messages: KafkaMessage[],
  ): Promise<WebhookMessage[]> {
    const common = {
      messages,
      topic,
      partition,
      producer: deps.producer,
      logger: deps.logger,
      now: deps.now(),
    };
    if (topic === triggersTopic && deps.triggerCodec) {
      const { events } = await decodeCanonicalBatch<EngagementTrigger>({
        ...common,
        codec: deps.triggerCodec,
        dlqTopic: deps.names.dlqOf('engagementTriggers') as string,
      });
      return events.map(fromTrigger);
    }
    const { events } = await decodeCanonicalBatch<SubscriptionEvent>({
      ...common,
      codec: deps.eventCodec,
      dlqTopic: deps.names.dlqOf('subscriptionEvents') as string,
    });
    return events.map(fromEvent);
  }

  /** Messages of one fetched batch and their deliveries, in one transaction (idempotent on redelivery). */
  return async function record(topic: string, partition: number, batch: KafkaMessage[]): Promise<void> {
    const messages = await toMessages(topic, partition, batch);
    deps.metrics.consumed.inc({ topic }, batch.length);
    const endpoints = await listEndpoints(deps.pool);
    const created = await inTransaction(deps.pool, (c) =>
      enqueue(
        c,
        messages.map((message) => ({
          message,
          endpointIds: endpoints.filter((e) => matches(e, message)).map((e) => e.id),
        })),
        deps.now(),
      ),
    );
    deps.metrics.enqueued.inc(created);
    if (created > 0) deps.onCreated();
  };
}
