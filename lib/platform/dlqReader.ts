/**
 * Reads dead-letter topics for the operator tools: each from its start to the end it had when the read began
 * (admin offsets), read_committed, in a throwaway consumer group that never commits, so the read is
 * invisible to the services and leaves no lag behind. Re-drive writes with the idempotent producer.
 */
import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { DeadLetter } from '../core/dlq/deadLetters';
import { createIdempotentProducer, readHeaders, type Headers } from './kafka';

/** How long a read may take before it gives up on reaching the end (an open transaction holds it back). */
const DEFAULT_TIMEOUT_MS = 30_000;

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

/** The end offset of every partition with records, per topic; partitions already at their end are left out. */
async function endOffsets(kafka: Kafka, topics: string[]): Promise<Map<string, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = new Map<string, number>();
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        if (Number(p.high) > Number(p.low)) ends.set(`${topic}/${p.partition}`, Number(p.high));
      }
    }
    return ends;
  } finally {
    await admin.disconnect();
  }
}

/** Keeps only the partition of `at` in `ends`, ending right after `at`'s offset (nothing if it is past the end). */
function narrowTo(ends: Map<string, number>, topics: string[], at: { partition: number; offset: number }) {
  if (topics.length !== 1) throw new Error('reading one record needs exactly one topic');
  const id = `${topics[0]}/${at.partition}`;
  const end = ends.get(id);
  ends.clear();
  if (end !== undefined && at.offset < end) ends.set(id, at.offset + 1);
}

/**
 * Every record of `topics` up to their current ends (or the one record `at`). With read_committed, records
 * of an aborted transaction and transaction markers are skipped, so a partition counts as read once the
 * consumer's position passes the last offset below its end.
 */
export async function readDeadLetters(
  kafka: Kafka,
  topics: string[],
  opts: { timeoutMs?: number; at?: { partition: number; offset: number } } = {},
): Promise<DeadLetter[]> {
  const ends = await endOffsets(kafka, topics);
  const at = opts.at;
  if (at && ends.size > 0) narrowTo(ends, topics, at);
  const out: DeadLetter[] = [];
  if (ends.size === 0) return out;
  const consumer = kafka.consumer({
    groupId: `storeline-dlq-${process.pid}-${randomBytes(4).toString('hex')}`,
    readUncommitted: false,
  });
  const pending = new Set(ends.keys());
  // A seek can deliver again what a batch fetched before it already did.
  const seen = new Set<string>();
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  // Batches of transaction markers only never reach eachBatch; the batch events see every batch.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const id = `${payload.topic}/${payload.partition}`;
    if (Number(payload.lastOffset) + 1 >= (ends.get(id) ?? 0)) pending.delete(id);
    if (pending.size === 0) finish();
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const id = `${batch.topic}/${batch.partition}`;
        const end = ends.get(id) ?? 0;
        for (const m of batch.messages) {
          if (Number(m.offset) >= end) break;
          if (at && Number(m.offset) < at.offset) continue;
          const position = `${id}@${m.offset}`;
          if (seen.has(position)) continue;
          seen.add(position);
          out.push({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            timestamp: Number(m.timestamp),
            key: m.key,
            value: m.value,
            headers: readHeaders(m.headers),
          });
        }
      },
    });
    // One record (`show`): start at it rather than read the partition from its start.
    if (at) consumer.seek({ topic: topics[0]!, partition: at.partition, offset: String(at.offset) });
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const result = await Promise.race([done, timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') {
      throw new Error(
        `could not read ${[...pending].join(', ')} to its end within ${timeoutMs} ms (an open transaction?)`,
      );
    }
  } finally {
    await consumer.disconnect();
  }
  return out.sort(
    (a, b) =>
      a.topic.localeCompare(b.topic) || a.partition - b.partition || Number(a.offset) - Number(b.offset),
  );
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
