/**
 * The fan-out's ingest: each fetched batch of canonical events (and engagement triggers, when enabled)
 * becomes one message per record and one delivery per matching endpoint, written in one transaction before
 * the offsets are committed, so a crash re-reads and the unique (endpoint, message) pair makes that harmless.
 */
import type { Pool } from 'pg';
import type { AvroCodec } from '../../platform/avro';
import type { CanonicalBatch } from '../../platform/canonicalConsumer';
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

  async function toMessages(batch: CanonicalBatch): Promise<WebhookMessage[]> {
    if (batch.topic === triggersTopic && deps.triggerCodec) {
      const { events } = await batch.decode(
        deps.triggerCodec,
        deps.names.dlqOf('engagementTriggers') as string,
      );
      return events.map(fromTrigger);
    }
    const { events } = await batch.decode(deps.eventCodec, deps.names.dlqOf('subscriptionEvents') as string);
    return events.map(fromEvent);
  }

  /** Messages of one fetched batch and their deliveries, in one transaction (idempotent on redelivery). */
  return async function record(batch: CanonicalBatch): Promise<void> {
    const messages = await toMessages(batch);
    deps.metrics.consumed.inc({ topic: batch.topic }, batch.messages.length);
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
