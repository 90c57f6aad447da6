/**
 * Reads fixed offset ranges of topic partitions for the operator tools (dead letters, re-normalization),
 * read_committed, in a throwaway consumer group that never commits, so the read is invisible to the services
 * and leaves no lag behind. Records of aborted transactions and transaction markers are skipped, so a range
 * counts as read once the consumer's position passes the last offset below its end.
 */
import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { readHeaders, type Headers } from './kafka';

/** How long a read may take before it gives up on reaching the end (an open transaction holds it back). */
const DEFAULT_TIMEOUT_MS = 30_000;

/** Offsets [start, end) of one partition. */
export interface OffsetRange {
  topic: string;
  partition: number;
  start: number;
  end: number;
}

export interface RangeRecord {
  topic: string;
  partition: number;
  offset: string;
  /** Record time, epoch ms. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
}

/** Every committed record of the non-empty `ranges`, ordered by topic, partition and offset. */
export async function readRanges(
  kafka: Kafka,
  ranges: OffsetRange[],
  opts: { timeoutMs?: number; label?: string } = {},
): Promise<RangeRecord[]> {
  const byId = new Map(ranges.filter((r) => r.end > r.start).map((r) => [`${r.topic}/${r.partition}`, r]));
  const out: RangeRecord[] = [];
  if (byId.size === 0) return out;
  const consumer = kafka.consumer({
    groupId: `storeline-${opts.label ?? 'read'}-${process.pid}-${randomBytes(4).toString('hex')}`,
    readUncommitted: false,
  });
  const pending = new Set(byId.keys());
  const seen = new Set<string>(); // a seek can deliver again what a batch fetched before it already did
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  // Batches of transaction markers only never reach eachBatch; the batch events see every batch.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const id = `${payload.topic}/${payload.partition}`;
    if (Number(payload.lastOffset) + 1 >= (byId.get(id)?.end ?? 0)) pending.delete(id);
    if (pending.size === 0) finish();
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...new Set(ranges.map((r) => r.topic))], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const range = byId.get(`${batch.topic}/${batch.partition}`);
        if (!range) return;
        for (const m of batch.messages) {
          const offset = Number(m.offset);
          if (offset >= range.end) break;
          if (offset < range.start || seen.has(`${batch.topic}/${batch.partition}@${offset}`)) continue;
          seen.add(`${batch.topic}/${batch.partition}@${offset}`);
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
    for (const r of byId.values()) {
      if (r.start > 0) consumer.seek({ topic: r.topic, partition: r.partition, offset: String(r.start) });
    }
    await within(done, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, () => [...pending].join(', '));
  } finally {
    await consumer.disconnect();
  }
  return out.sort(
    (a, b) =>
      a.topic.localeCompare(b.topic) || a.partition - b.partition || Number(a.offset) - Number(b.offset),
  );
}

async function within(done: Promise<void>, timeoutMs: number, pending: () => string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  const result = await Promise.race([done, timedOut]);
  clearTimeout(timer);
  if (result === 'timeout')
    throw new Error(`could not read ${pending()} to its end within ${timeoutMs} ms (an open transaction?)`);
}
