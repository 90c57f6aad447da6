/** Records as the transactional loop and the dead-letter builder see them. */
import type { Headers } from './kafka';

export interface InputRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
  /** Broker/producer timestamp, epoch ms. */
  timestamp: number;
}

export interface OutputRecord {
  topic: string;
  key: string | Buffer | null;
  value: Buffer;
  headers?: Headers;
}

/** Records grouped for one kafkajs sendBatch: one entry per topic, records in their order. */
export function groupByTopic(
  records: readonly OutputRecord[],
): { topic: string; messages: { key: OutputRecord['key']; value: Buffer; headers?: Headers }[] }[] {
  const byTopic = new Map<string, { key: OutputRecord['key']; value: Buffer; headers?: Headers }[]>();
  for (const r of records) {
    const message = { key: r.key, value: r.value, ...(r.headers && { headers: r.headers }) };
    const list = byTopic.get(r.topic);
    if (list) list.push(message);
    else byTopic.set(r.topic, [message]);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}
