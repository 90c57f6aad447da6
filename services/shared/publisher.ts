/**
 * Durable publish for receivers: resolves only once Kafka acknowledged the record with acks=all on an
 * idempotent producer; rejects with a retriable error on a timeout or a broker failure, which the
 * receivers turn into a 503 so the store retries.
 *
 * Group commit: the idempotent producer allows one request in flight, so one request per notification
 * would queue concurrent requests behind each other. Records that arrive while a request is in flight are
 * sent together in the next one (up to `maxBatch`), and each caller still resolves only when the request
 * holding its record is acknowledged. Nothing waits for a batch to fill: an idle publisher sends at once.
 * A caller that timed out has answered 503, but its record stays queued and may still be written: the store
 * retries, and the duplicate is absorbed downstream by notification id (as for any retried publish).
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

interface Pending {
  record: RawRecord;
  done: (err?: unknown) => void;
}

export function kafkaPublisher(producer: Producer, timeoutMs: number, maxBatch = 500): Publish {
  let queue: Pending[] = [];
  let sending = false;

  async function flush(): Promise<void> {
    if (sending || queue.length === 0) return;
    sending = true;
    const batch = queue.slice(0, maxBatch);
    queue = queue.slice(batch.length);
    const byTopic = new Map<string, RawRecord[]>();
    for (const { record } of batch) byTopic.set(record.topic, [...(byTopic.get(record.topic) ?? []), record]);
    try {
      await producer.sendBatch({
        acks: -1,
        timeout: timeoutMs,
        topicMessages: [...byTopic].map(([topic, records]) => ({
          topic,
          messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
        })),
      });
      for (const p of batch) p.done();
    } catch (err) {
      for (const p of batch) p.done(err);
    } finally {
      sending = false;
      void flush();
    }
  }

  return (record) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new TransientError(`publish to ${record.topic} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      queue.push({
        record,
        done: (err) => {
          clearTimeout(timer);
          if (err === undefined) return resolve();
          reject(
            new TransientError(`publish to ${record.topic} failed: ${errorMessage(err)}`, {
              cause: err,
              context: { topic: record.topic },
            }),
          );
        },
      });
      void flush();
    });
}
