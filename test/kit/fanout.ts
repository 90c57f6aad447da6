/**
 * The webhook fan-out in-process for integration tests: real Kafka consumer, real PostgreSQL store, real
 * HTTP sender with the SSRF guard opened to loopback (tests' endpoints listen there), short retry delays.
 * Tests override what their scenario needs (disableAfterMs, maxInFlight, triggerCodec, ...).
 */
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { EndpointManager } from '../../lib/adapters/webhooks/endpoints';
import { WebhookSender } from '../../lib/adapters/webhooks/sender';
import { createFanoutService, type FanoutDeps } from '../../lib/adapters/webhooks/service';
import { SsrfGuard } from '../../lib/adapters/webhooks/ssrf';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import type { TopicNames } from '../../lib/core/topics';
import type { AvroCodec } from '../../lib/platform/avro';
import { createIdempotentProducer } from '../../lib/platform/kafka';
import { randomId, testLogger } from '../support/kafka';

export async function startFanout(opts: {
  kafka: Kafka;
  names: TopicNames;
  pool: Pool;
  eventCodec: AvroCodec<SubscriptionEvent>;
  overrides?: Partial<FanoutDeps>;
}) {
  const guard = new SsrfGuard(['127.0.0.1/32']);
  const manager = new EndpointManager(opts.pool, guard, { maxConcurrency: 4, timeoutMs: 15_000 });
  const producer = createIdempotentProducer(opts.kafka);
  await producer.connect();
  const sender = new WebhookSender(guard, 'Storeline-Webhooks/test');
  const service = createFanoutService({
    kafka: opts.kafka,
    pool: opts.pool,
    producer,
    eventCodec: opts.eventCodec,
    names: opts.names,
    sender,
    groupId: randomId('fanout'),
    logger: testLogger,
    policy: { scheduleMs: [200, 400], jitter: 0, maxRetryAfterMs: 5_000 },
    disableAfterMs: 60_000,
    maxInFlight: 100,
    leaseMarginMs: 1_000,
    pollIntervalMs: 100,
    shutdownGraceMs: 500,
    ...opts.overrides,
  });
  return {
    manager,
    service,
    async stop(): Promise<void> {
      await service.stop();
      sender.close();
      await producer.disconnect();
    },
  };
}
