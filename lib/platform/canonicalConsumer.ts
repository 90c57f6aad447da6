/**
 * The one consumer loop of the canonical topics (state, triggers, webhook fan-out): its own group, a
 * ConsumerGuard (restart, pause on a dependency outage, stall readiness), fetched batches handed over
 * with a decoder that dead-letters undecodable records, offsets resolved only after the handler succeeded.
 */
import type { Consumer, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { AvroCodec } from './avro';
import { decodeCanonicalBatch } from './canonicalBatch';
import { ConsumerGuard, type GuardTuning, type Readiness } from './consumerGuard';
import type { Logger } from './logger';

export interface CanonicalBatch {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
  firstOffset: () => string | null;
  /** Decodes the batch; records that do not decode go to `dlqTopic` with the reason, never dropped. */
  decode<T>(codec: AvroCodec<T>, dlqTopic: string): Promise<{ events: T[]; deadLettered: number }>;
}

export interface CanonicalConsumerOptions {
  kafka: Kafka;
  /** Sends the dead letters. */
  producer: Producer;
  groupId: string;
  /** Names the consumer in metrics and logs. */
  component: string;
  topics: string[];
  logger: Logger;
  metrics?: Registry | undefined;
  now?: () => number;
  fromBeginning?: boolean;
  sessionTimeoutMs?: number | undefined;
  /** Partitions whose batches may be handled at once (default one at a time). */
  partitionsConsumedConcurrently?: number;
  guard?: GuardTuning | undefined;
  handle: (batch: CanonicalBatch) => Promise<void>;
}

export class CanonicalConsumer {
  readonly consumer: Consumer;
  private readonly guard: ConsumerGuard;

  constructor(private readonly opts: CanonicalConsumerOptions) {
    this.consumer = opts.kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
    });
    this.guard = new ConsumerGuard({
      ...opts.guard,
      kafka: opts.kafka,
      consumer: this.consumer,
      groupId: opts.groupId,
      component: opts.component,
      logger: opts.logger,
      metrics: opts.metrics,
    });
  }

  readiness(): Promise<Readiness> {
    return this.guard.readiness();
  }

  async start(): Promise<void> {
    const { opts, guard } = this;
    const concurrency = opts.partitionsConsumedConcurrently;
    await guard.start(
      { topics: opts.topics, fromBeginning: opts.fromBeginning ?? true },
      {
        ...(concurrency !== undefined && { partitionsConsumedConcurrently: concurrency }),
        eachBatchAutoResolve: false,
        eachBatch: guard.wrap(({ batch }) => opts.handle(this.canonical(batch)), { resolve: true }),
      },
    );
  }

  stop(): Promise<void> {
    return this.guard.stop();
  }

  private canonical(batch: {
    topic: string;
    partition: number;
    messages: KafkaMessage[];
    firstOffset(): string | null;
  }): CanonicalBatch {
    const { producer, logger } = this.opts;
    const now = this.opts.now ?? Date.now;
    const { topic, partition, messages } = batch;
    return {
      topic,
      partition,
      messages,
      firstOffset: () => batch.firstOffset(),
      decode: (codec, dlqTopic) =>
        decodeCanonicalBatch({ messages, topic, partition, codec, producer, dlqTopic, logger, now: now() }),
    };
  }
}
