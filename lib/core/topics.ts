/**
 * The one topic catalog: every topic Storeline reads or writes, with its key, value format, Avro subject,
 * partitions, configuration, dead-letter topic and the retry policy of the consumers that read it.
 * Names may gain a prefix from config (TOPIC_PREFIX), e.g. for tests and shared clusters.
 */
import type { Schema } from 'avsc';
import { engagementTriggerSchema, subscriptionEventSchema, subscriptionStateSchema } from './generated/avro';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface RetryPolicy {
  /** Attempts for one batch before the consumer gives up and restarts from its committed offset. */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

type TopicValue = { format: 'raw' } | { format: 'avro'; schema: Schema };

export interface TopicSpec {
  name: string;
  /** What the record key is (documentation; producers set it). */
  key: string;
  value: TopicValue;
  partitions: number;
  config: Record<string, string>;
  /** Catalog id of the dead-letter topic for records of this topic that cannot be processed. */
  dlq?: string;
  retry: RetryPolicy;
}

const defaultRetry: RetryPolicy = { maxAttempts: 8, initialBackoffMs: 200, maxBackoffMs: 10_000 };
const raw: TopicValue = { format: 'raw' };
// Dead letters and raw notifications are the audit trail: kept long enough to replay after a fix.
const rawRetention = { 'retention.ms': String(90 * DAY_MS) };
const forever = { 'retention.ms': '-1' };

export const TOPICS = {
  rawAppStore: {
    name: 'storeline.raw.app-store.v1',
    key: 'originalTransactionId, else notificationUUID',
    value: raw,
    partitions: 6,
    config: rawRetention,
    dlq: 'rawAppStoreDlq',
    retry: defaultRetry,
  },
  rawAppStoreDlq: {
    name: 'storeline.raw.app-store.v1.dlq',
    key: 'as the source record',
    value: raw,
    partitions: 1,
    config: forever,
    retry: defaultRetry,
  },
  rawPlayStore: {
    name: 'storeline.raw.play-store.v1',
    key: 'purchaseToken',
    value: raw,
    partitions: 6,
    config: rawRetention,
    dlq: 'rawPlayStoreDlq',
    retry: defaultRetry,
  },
  rawPlayStoreDlq: {
    name: 'storeline.raw.play-store.v1.dlq',
    key: 'as the source record',
    value: raw,
    partitions: 1,
    config: forever,
    retry: defaultRetry,
  },
  subscriptionEvents: {
    name: 'storeline.subscription-events.v1',
    key: 'subscriptionKey',
    value: { format: 'avro', schema: subscriptionEventSchema },
    partitions: 6,
    // Kept forever: state is rebuilt by replaying this topic from the beginning.
    config: forever,
    dlq: 'subscriptionEventsDlq',
    retry: defaultRetry,
  },
  subscriptionEventsDlq: {
    name: 'storeline.subscription-events.v1.dlq',
    key: 'as the source record',
    value: raw,
    partitions: 1,
    config: forever,
    retry: defaultRetry,
  },
  subscriptionState: {
    name: 'storeline.subscription-state.v1',
    key: 'subscriptionKey',
    value: { format: 'avro', schema: subscriptionStateSchema },
    partitions: 6,
    config: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': String(60 * 60 * 1000) },
    retry: defaultRetry,
  },
  engagementTriggers: {
    name: 'storeline.engagement-triggers.v1',
    key: 'subscriptionKey',
    value: { format: 'avro', schema: engagementTriggerSchema },
    partitions: 6,
    config: { 'retention.ms': String(30 * DAY_MS) },
    dlq: 'engagementTriggersDlq',
    retry: defaultRetry,
  },
  engagementTriggersDlq: {
    name: 'storeline.engagement-triggers.v1.dlq',
    key: 'as the source record',
    value: raw,
    partitions: 1,
    config: forever,
    retry: defaultRetry,
  },
  /**
   * Webhook deliveries that failed for good (last attempt, a non-retriable answer, 410, refused target):
   * the exact body sent, with the endpoint, webhook-id and reason in headers. Retries themselves wait in
   * the fan-out's PostgreSQL delivery store (see lib/adapters/webhooks/store.ts), not in retry topics.
   */
  webhooksDlq: {
    name: 'storeline.webhooks.dlq',
    key: 'subscriptionKey',
    value: raw,
    partitions: 1,
    config: forever,
    retry: defaultRetry,
  },
} as const satisfies Record<string, TopicSpec>;

export type TopicId = keyof typeof TOPICS;

/** Topic names after the configured prefix. */
export class TopicNames {
  constructor(readonly prefix = '') {}

  name(id: TopicId): string {
    return this.prefix + TOPICS[id].name;
  }

  /** Confluent TopicNameStrategy subject for the topic's values. */
  subject(id: TopicId): string {
    return `${this.name(id)}-value`;
  }

  dlqOf(id: TopicId): string | undefined {
    const spec: TopicSpec = TOPICS[id];
    return spec.dlq ? this.name(spec.dlq as TopicId) : undefined;
  }

  all(): { id: TopicId; name: string; spec: TopicSpec }[] {
    return (Object.keys(TOPICS) as TopicId[]).map((id) => ({ id, name: this.name(id), spec: TOPICS[id] }));
  }
}
