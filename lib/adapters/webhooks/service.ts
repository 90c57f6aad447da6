/**
 * webhook-fanout: a consumer (own group) turns each canonical event, and each engagement trigger when
 * enabled, into one message and one delivery per matching endpoint, written to PostgreSQL in one
 * transaction per batch before the offsets are committed (so a crash re-reads, and the unique
 * (endpoint, message) pair makes that harmless). A dispatcher claims due deliveries per endpoint, up to
 * the endpoint's concurrency, and attempts them over HTTP; the outcome (pure, policy.ts) schedules a
 * retry, completes the delivery, dead-letters it, or disables the endpoint.
 */
import type { Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Pool } from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AvroCodec } from '../../platform/avro';
import { decodeCanonicalBatch } from '../../platform/canonicalBatch';
import { inTransaction } from '../../platform/db';
import type { EngagementTrigger, SubscriptionEvent } from '../../core/generated/avro';
import type { Logger } from '../../platform/logger';
import type { TopicNames } from '../../core/topics';
import { cutReason, dlqHeaders } from '../../platform/dlq';
import { ConsumerGuard, type GuardTuning } from '../../platform/consumerGuard';
import { fromEvent, fromTrigger, matches, type WebhookMessage } from '../../core/webhooks/messages';
import {
  describe as describeResult,
  endpointHealth,
  nextStep,
  type Next,
  type RetryPolicy,
} from '../../core/webhooks/policy';
import type { SendResult, WebhookSender } from './sender';
import { signatureHeader, webhookId } from '../../core/webhooks/signing';
import { recordAttempt, recordSuccess } from './store/attempts';
import { type ClaimedDelivery, claim, completeDelivery, enqueue } from './store/deliveries';
import {
  type Endpoint,
  disableEndpoint,
  endpointsWithDueWork,
  listEndpoints,
  markEndpointFailing,
  signingSecrets,
} from './store/endpoints';

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
  const registers = deps.metrics ? [deps.metrics] : [];
  const m = {
    consumed: new Counter({
      name: 'storeline_webhook_records_consumed_total',
      help: 'Canonical records read by the fan-out',
      labelNames: ['topic'],
      registers,
    }),
    enqueued: new Counter({
      name: 'storeline_webhook_deliveries_created_total',
      help: 'Deliveries created (one per message and matching endpoint)',
      registers,
    }),
    attempts: new Counter({
      name: 'storeline_webhook_attempts_total',
      help: 'Delivery attempts by outcome (success, retry, exhausted, rejected, gone, refused)',
      labelNames: ['outcome'],
      registers,
    }),
    latency: new Histogram({
      name: 'storeline_webhook_attempt_duration_seconds',
      help: 'Time from request start to the end of the response, per attempt',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
      registers,
    }),
    deliveryLag: new Histogram({
      name: 'storeline_webhook_delivery_lag_seconds',
      help: 'From the message entering the store to its successful delivery',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600, 86_400],
      registers,
    }),
    disabled: new Counter({
      name: 'storeline_webhook_endpoints_disabled_total',
      help: 'Endpoints disabled by the fan-out (gone: answered 410; failing: failed for the configured span)',
      labelNames: ['reason'],
      registers,
    }),
    dlq: new Counter({
      name: 'storeline_webhook_dlq_total',
      help: 'Deliveries that failed for good and went to the webhooks DLQ',
      labelNames: ['outcome'],
      registers,
    }),
    inFlight: new Gauge({ name: 'storeline_webhook_in_flight', help: 'Attempts in flight', registers }),
  };

  const consumer = deps.kafka.consumer({
    groupId: deps.groupId,
    sessionTimeout: deps.sessionTimeoutMs ?? 30_000,
  });
  const guard = new ConsumerGuard({
    ...deps.guard,
    kafka: deps.kafka,
    consumer,
    groupId: deps.groupId,
    component: 'webhook-fanout',
    logger: deps.logger,
    metrics: deps.metrics,
  });
  const eventsTopic = deps.names.name('subscriptionEvents');
  const triggersTopic = deps.names.name('engagementTriggers');
  const dlqTopic = deps.names.name('webhooksDlq');
  const inFlight = new Map<string, number>();
  const attempts = new Set<Promise<void>>();
  let total = 0;
  let stopped = false;
  let ticking = false;
  let again = false;
  let poll: NodeJS.Timeout | undefined;

  async function toMessages(
    topic: string,
    partition: number,
    messages: KafkaMessage[],
  ): Promise<WebhookMessage[]> {
    const common = { messages, topic, partition, producer: deps.producer, logger: deps.logger, now: now() };
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
  async function record(topic: string, partition: number, batch: KafkaMessage[]): Promise<void> {
    const messages = await toMessages(topic, partition, batch);
    m.consumed.inc({ topic }, batch.length);
    const endpoints = await listEndpoints(deps.pool);
    const created = await inTransaction(deps.pool, (c) =>
      enqueue(
        c,
        messages.map((message) => ({
          message,
          endpointIds: endpoints.filter((e) => matches(e, message)).map((e) => e.id),
        })),
        now(),
      ),
    );
    m.enqueued.inc(created);
    if (created > 0) wake();
  }

  /** Runs a dispatch round now, or right after the current one. */
  function wake(): void {
    if (stopped) return;
    if (ticking) {
      again = true;
      return;
    }
    ticking = true;
    dispatch()
      .catch((err) => deps.logger.error({ err }, 'dispatch round failed; retrying on the next tick'))
      .finally(() => {
        ticking = false;
        if (again) {
          again = false;
          setImmediate(wake);
        }
      });
  }

  async function dispatch(): Promise<void> {
    const at = now();
    for (const endpoint of await endpointsWithDueWork(deps.pool, at)) {
      if (stopped) return;
      const free = Math.min(
        endpoint.maxConcurrency - (inFlight.get(endpoint.id) ?? 0),
        deps.maxInFlight - total,
      );
      if (free <= 0) continue;
      const claimed = await claim(
        deps.pool,
        endpoint.id,
        at,
        free,
        at + endpoint.timeoutMs + deps.leaseMarginMs,
      );
      for (const d of claimed) start(endpoint, d);
    }
  }

  function start(endpoint: Endpoint, d: ClaimedDelivery): void {
    inFlight.set(endpoint.id, (inFlight.get(endpoint.id) ?? 0) + 1);
    total += 1;
    m.inFlight.set(total);
    const p = attempt(endpoint, d)
      .catch((err) =>
        // The lease stays: the delivery is attempted again when it runs out. Nothing is lost.
        deps.logger.error({ err, endpointId: endpoint.id, deliveryId: d.id }, 'recording an attempt failed'),
      )
      .finally(() => {
        inFlight.set(endpoint.id, (inFlight.get(endpoint.id) ?? 1) - 1);
        total -= 1;
        m.inFlight.set(total);
        attempts.delete(p);
        wake();
      });
    attempts.add(p);
  }

  async function attempt(endpoint: Endpoint, d: ClaimedDelivery): Promise<void> {
    const startedAt = now();
    const id = webhookId(d.messageId);
    const timestamp = Math.floor(startedAt / 1000);
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(signingSecrets(endpoint, startedAt), id, timestamp, d.body),
    };
    const sent = await deps.sender.send(endpoint.url, d.body, headers, endpoint.timeoutMs);
    const at = now();
    const next = nextStep(sent.result, d.attempt, deps.policy, at, deps.random);
    if (next.delivery === 'failed') await deadLetter(endpoint, d, next, sent);
    const statusCode = sent.result.kind === 'response' ? sent.result.status : null;
    const disabled =
      next.delivery === 'succeeded'
        ? await recordSuccess(
            deps.pool,
            {
              deliveryId: d.id,
              attempt: d.attempt,
              at: startedAt,
              latencyMs: sent.latencyMs,
              statusCode,
              outcome: 'success',
              error: null,
              response: sent.responseExcerpt ?? null,
            },
            endpoint.id,
          ).then(() => undefined)
        : await recordFailure(endpoint, d, next, sent, startedAt, at);
    m.attempts.inc({ outcome: next.outcome });
    m.latency.observe({ outcome: next.outcome }, sent.latencyMs / 1000);
    const log = {
      endpointId: endpoint.id,
      deliveryId: d.id,
      webhookId: id,
      type: d.type,
      attempt: d.attempt,
    };
    if (next.delivery === 'succeeded') {
      m.deliveryLag.observe((at - d.createdAt) / 1000);
      deps.logger.info({ ...log, latencyMs: sent.latencyMs }, 'webhook delivered');
    } else {
      deps.logger.warn(
        {
          ...log,
          outcome: next.outcome,
          result: describeResult(sent.result),
          ...(next.delivery === 'retry' ? { nextAttemptAt: new Date(next.at).toISOString() } : {}),
        },
        next.delivery === 'retry' ? 'webhook attempt failed; will retry' : 'webhook delivery failed for good',
      );
    }
    if (disabled) {
      m.disabled.inc({ reason: disabled });
      deps.logger.warn({ endpointId: endpoint.id, reason: disabled }, 'endpoint disabled');
    }
  }

  /** A failed attempt: logged, rescheduled or completed, and the endpoint's health updated, in one transaction. */
  function recordFailure(
    endpoint: Endpoint,
    d: ClaimedDelivery,
    next: Exclude<Next, { delivery: 'succeeded' }>,
    sent: SendResult,
    startedAt: number,
    at: number,
  ): Promise<'gone' | 'failing' | undefined> {
    return inTransaction(deps.pool, async (c) => {
      await recordAttempt(c, {
        deliveryId: d.id,
        attempt: d.attempt,
        at: startedAt,
        latencyMs: sent.latencyMs,
        statusCode: sent.result.kind === 'response' ? sent.result.status : null,
        outcome: next.outcome,
        error: next.delivery === 'failed' ? next.reason : describeResult(sent.result),
        response: sent.responseExcerpt ?? null,
      });
      await completeDelivery(
        c,
        d.id,
        next.delivery === 'retry'
          ? { status: 'pending', nextAttemptAt: next.at }
          : { status: next.delivery, at },
        {
          statusCode: sent.result.kind === 'response' ? sent.result.status : null,
          error: describeResult(sent.result),
        },
      );
      if (next.outcome === 'gone') {
        return (await disableEndpoint(c, endpoint.id, 'gone: answered 410', at)) ? 'gone' : undefined;
      }
      const state = await markEndpointFailing(c, endpoint.id, at);
      if (!state?.enabled) return undefined;
      const health = endpointHealth(state.failingSince, false, at, deps.disableAfterMs);
      if (!health.disable) return undefined;
      const reason = `failing: no successful delivery since ${new Date(state.failingSince).toISOString()}`;
      return (await disableEndpoint(c, endpoint.id, reason, at)) ? 'failing' : undefined;
    });
  }

  async function deadLetter(
    endpoint: Endpoint,
    d: ClaimedDelivery,
    next: Extract<Next, { delivery: 'failed' }>,
    sent: SendResult,
  ): Promise<void> {
    await deps.producer.send({
      topic: dlqTopic,
      acks: -1,
      messages: [
        {
          key: d.subscriptionKey,
          value: d.body,
          headers: dlqHeaders(
            {
              'webhook-id': webhookId(d.messageId),
              'webhook-type': d.type,
              'endpoint-id': endpoint.id,
              'delivery-id': d.id,
              attempts: String(d.attempt),
              outcome: next.outcome,
              ...(sent.result.kind === 'response' ? { 'last-status': String(sent.result.status) } : {}),
            },
            {
              stage: 'webhook-delivery',
              reason: cutReason(next.reason),
              retriable: false,
              firstSeen: new Date(d.createdAt).toISOString(),
            },
          ),
        },
      ],
    });
    m.dlq.inc({ outcome: next.outcome });
  }

  return {
    consumer,
    readiness: () => guard.readiness(),
    /** Runs a dispatch round now (tests, and after API changes such as enable or replay). */
    wake,
    async start(): Promise<void> {
      // Dispatch first: deliveries already in the store (after a restart) go out while the consumer is
      // still joining its group, which can take a session timeout when a dead member held partitions.
      poll = setInterval(wake, deps.pollIntervalMs);
      wake();
      const topics = deps.triggerCodec ? [eventsTopic, triggersTopic] : [eventsTopic];
      await guard.start(
        { topics, fromBeginning: true },
        {
          // Partitions are independent here (deliveries are keyed by message and endpoint).
          partitionsConsumedConcurrently: 3,
          eachBatchAutoResolve: false,
          eachBatch: guard.wrap(
            async ({ batch }) => {
              try {
                await record(batch.topic, batch.partition, batch.messages);
              } catch (err) {
                // kafkajs retries the batch from the committed offset (or the guard pauses); say why, with where.
                deps.logger.error(
                  { err, topic: batch.topic, partition: batch.partition, offset: batch.firstOffset() },
                  'recording deliveries failed; the batch will be retried',
                );
                throw err;
              }
            },
            { resolve: true },
          ),
        },
      );
    },
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(poll);
      await guard.stop();
      // Attempts in flight get a bounded time to finish and be recorded; any left keep their lease and
      // are attempted again (same webhook-id) by whichever instance runs next.
      const grace = new Promise((r) => setTimeout(r, deps.shutdownGraceMs ?? 10_000).unref());
      await Promise.race([Promise.allSettled([...attempts]), grace]);
    },
  };
}
