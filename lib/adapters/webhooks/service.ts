/**
 * webhook-fanout, composed: a consumer (own group) feeds the ingest (ingest.ts: canonical events, and
 * engagement triggers when enabled, become messages and deliveries in PostgreSQL before offsets commit); the
 * dispatcher (dispatcher.ts) attempts due deliveries over HTTP; each attempt's outcome is recorded one way
 * (outcome.ts). The admin API is the deployable's app (services/webhook-fanout/app.ts).
 */
import type { Kafka, Producer } from 'kafkajs';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import type { AvroCodec } from '../../platform/avro';
import { CanonicalConsumer } from '../../platform/canonicalConsumer';
import type { GuardTuning } from '../../platform/consumerGuard';
import type { Logger } from '../../platform/logger';
import type { EngagementTrigger, SubscriptionEvent } from '../../core/generated/avro';
import type { TopicNames } from '../../core/topics';
import type { RetryPolicy } from '../../core/webhooks/policy';
import { Dispatcher } from './dispatcher';
import { createFanoutIngest } from './ingest';
import { fanoutMetrics } from './metrics';
import type { WebhookSender } from './sender';

export interface FanoutDeps {
  kafka: Kafka;
  pool: Pool;
  producer: Producer;
  eventCodec: AvroCodec<SubscriptionEvent>;
  /** Set to deliver engagement triggers too. */
  triggerCodec?: AvroCodec<EngagementTrigger> | undefined;
  names: TopicNames;
  sender: WebhookSender;
  groupId: string;
  logger: Logger;
  policy: RetryPolicy;
  disableAfterMs: number;
  maxInFlight: number;
  leaseMarginMs: number;
  pollIntervalMs: number;
  metrics?: Registry;
  now?: () => number;
  random?: () => number;
  sessionTimeoutMs?: number;
  /** How long stop() waits for attempts in flight before leaving them to their leases. */
  shutdownGraceMs?: number;
  guard?: GuardTuning;
}

export function createFanoutService(deps: FanoutDeps) {
  const now = deps.now ?? Date.now;
  const metrics = fanoutMetrics(deps.metrics);
  const eventsTopic = deps.names.name('subscriptionEvents');
  const triggersTopic = deps.names.name('engagementTriggers');
  const consumerLoop = new CanonicalConsumer({
    ...deps,
    component: 'webhook-fanout',
    topics: deps.triggerCodec ? [eventsTopic, triggersTopic] : [eventsTopic],
    now,
    // Partitions are independent here (deliveries are keyed by message and endpoint).
    partitionsConsumedConcurrently: 3,
    handle: async (batch) => {
      try {
        await record(batch);
      } catch (err) {
        // kafkajs retries the batch from the committed offset (or the guard pauses); say why, with where.
        deps.logger.error(
          { err, topic: batch.topic, partition: batch.partition, offset: batch.firstOffset() },
          'recording deliveries failed; the batch will be retried',
        );
        throw err;
      }
    },
  });
  const dispatcher = new Dispatcher({ ...deps, dlqTopic: deps.names.name('webhooksDlq'), metrics, now });
  const record = createFanoutIngest({ ...deps, now, metrics, onCreated: dispatcher.wake });

  return {
    consumer: consumerLoop.consumer,
    readiness: () => consumerLoop.readiness(),
    /** Runs a dispatch round now (tests, and after API changes such as enable or replay). */
    wake: dispatcher.wake,
    async start(): Promise<void> {
      // Dispatch first: deliveries already in the store (after a restart) go out while the consumer is
      // still joining its group, which can take a session timeout when a dead member held partitions.
      dispatcher.startPolling();
      await consumerLoop.start();
    },
    async stop(): Promise<void> {
      dispatcher.halt();
      await consumerLoop.stop();
      // Attempts in flight get a bounded time to finish and be recorded; any left keep their lease and
      // are attempted again (same webhook-id) by whichever instance runs next.
      await dispatcher.drain(deps.shutdownGraceMs ?? 10_000);
    },
  };
}
