/**
 * For consumers of the canonical topics (state, triggers, webhooks; events or triggers): decode a fetched batch, sending records
 * that cannot be decoded to the canonical DLQ with the reason (never dropped, never a crash loop).
 * Retriable failures (registry unreachable) are thrown so the batch is retried.
 */
import type { KafkaMessage, Producer } from 'kafkajs';
import type { AvroCodec } from './avro';
import { PoisonMessageError, isRetriable } from '../core/errors';
import type { SubscriptionEvent } from '../core/generated/avro';
import { readHeaders } from './kafka';
import type { Logger } from './logger';
import { deadLetter } from './dlq';

export async function decodeCanonicalBatch<T = SubscriptionEvent>(opts: {
  messages: KafkaMessage[];
  topic: string;
  partition: number;
  codec: AvroCodec<T>;
  producer: Producer;
  dlqTopic: string;
  logger: Logger;
  now: number;
}): Promise<{ events: T[]; deadLettered: number }> {
  const events: T[] = [];
  const poison: { message: KafkaMessage; err: unknown }[] = [];
  for (const m of opts.messages) {
    try {
      if (!m.value) throw new PoisonMessageError('decode', 'record has no value');
      events.push(await opts.codec.decode(m.value));
    } catch (err) {
      if (isRetriable(err)) throw err;
      poison.push({ message: m, err });
    }
  }
  if (poison.length > 0) {
    await opts.producer.send({
      topic: opts.dlqTopic,
      acks: -1,
      messages: poison.map(({ message, err }) => {
        const d = deadLetter(
          {
            topic: opts.topic,
            partition: opts.partition,
            offset: message.offset,
            key: message.key,
            value: message.value,
            headers: readHeaders(message.headers as Record<string, unknown>),
            timestamp: Number(message.timestamp),
          },
          opts.dlqTopic,
          err,
          opts.now,
        );
        return { key: d.key, value: d.value, headers: d.headers };
      }),
    });
    opts.logger.error(
      { topic: opts.topic, partition: opts.partition, count: poison.length },
      'dead-lettered undecodable canonical records',
    );
  }
  return { events, deadLettered: poison.length };
}
