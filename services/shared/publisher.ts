/**
 * Durable publish for receivers: resolves only once Kafka acknowledged the record with acks=all on an
 * idempotent producer; rejects with a retriable error on a timeout or a broker failure, which the
 * receivers turn into a 503 so the store retries.
 */
import type { Producer } from 'kafkajs';
import { TransientError, errorMessage } from './errors';
import type { Headers } from './kafka';

export interface RawRecord {
  topic: string;
  key: string;
  value: Buffer;
  headers: Headers;
}

export type Publish = (record: RawRecord) => Promise<void>;

export function kafkaPublisher(producer: Producer, timeoutMs: number): Publish {
  return async (record) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TransientError(`publish to ${record.topic} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([
        producer.send({
          topic: record.topic,
          acks: -1,
          timeout: timeoutMs,
          messages: [{ key: record.key, value: record.value, headers: record.headers }],
        }),
        timeout,
      ]);
    } catch (err) {
      if (err instanceof TransientError) throw err;
      throw new TransientError(`publish to ${record.topic} failed: ${errorMessage(err)}`, {
        cause: err,
        context: { topic: record.topic },
      });
    } finally {
      clearTimeout(timer);
    }
  };
}
