/**
 * Reads dead-letter topics for the operator tools: each from its start to the end it had when the read began
 * (admin offsets), read_committed, in a throwaway consumer group that never commits, so the read is
 * invisible to the services and leaves no lag behind. Re-drive writes with the idempotent producer.
 */
import type { Kafka } from 'kafkajs';
import type { DeadLetter } from '../core/dlq/deadLetters';
import { createIdempotentProducer, type Headers } from './kafka';
import { readRanges, type OffsetRange } from './rangeReader';

/** Those of `topics` the cluster has (a prefix whose catalog was never created has none). */
export async function existingTopics(kafka: Kafka, topics: string[]): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const have = new Set(await admin.listTopics());
    return topics.filter((t) => have.has(t));
  } finally {
    await admin.disconnect();
  }
}

/** Each partition of `topics` that has records, from its start to its current end. */
async function wholeTopics(kafka: Kafka, topics: string[]): Promise<OffsetRange[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ranges: OffsetRange[] = [];
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        ranges.push({ topic, partition: p.partition, start: Number(p.low), end: Number(p.high) });
      }
    }
    return ranges;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Every record of `topics` up to their current ends (or the one record `at`, of a single topic), through
 * readRanges: read_committed, in a throwaway group that never commits.
 */
export async function readDeadLetters(
  kafka: Kafka,
  topics: string[],
  opts: { timeoutMs?: number; at?: { partition: number; offset: number } } = {},
): Promise<DeadLetter[]> {
  const at = opts.at;
  if (at && topics.length !== 1) throw new Error('reading one record needs exactly one topic');
  const ranges = (await wholeTopics(kafka, topics))
    .filter((r) => !at || r.partition === at.partition)
    .map((r) => (at ? { ...r, start: at.offset, end: Math.min(r.end, at.offset + 1) } : r));
  return readRanges(kafka, ranges, { timeoutMs: opts.timeoutMs, label: 'dlq' });
}

export interface Redrive {
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
}

/** Writes the records in order, acks=all, with the idempotent producer; resolves once all are stored. */
export async function writeRedrives(kafka: Kafka, records: Redrive[]): Promise<void> {
  if (records.length === 0) return;
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  try {
    for (const r of records) {
      await producer.send({
        topic: r.topic,
        acks: -1,
        messages: [{ key: r.key, value: r.value, headers: r.headers }],
      });
    }
  } finally {
    await producer.disconnect();
  }
}
