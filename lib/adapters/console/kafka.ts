/**
 * What the console reads from Kafka: consumer lag per group and partition (admin offsets, no group joined),
 * one raw record by position (the operator toolkit's reader), dead-letter counts per reason kept fresh in
 * the background (for the overview and the `storeline_dlq_records` gauge), and the live stream of
 * canonical events in the console's own consumer group.
 */
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { Gauge, type Registry } from 'prom-client';
import { countByReason, partitionLag, type DlqCount } from '../../core/console/charts';
import { catalogDlqs, type DeadLetter } from '../../core/dlq/deadLetters';
import { errorMessage } from '../../core/errors';
import type { SubscriptionEvent } from '../../core/generated/avro';
import type { TopicNames } from '../../core/topics';
import type { AvroCodec } from '../../platform/avro';
import { existingTopics, readDeadLetters } from '../../platform/dlqReader';
import type { Logger } from '../../platform/logger';

export interface LagRow {
  group: string;
  topic: string;
  partition: number;
  lag: number;
}

async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Lag of every partition each group has committed offsets on; a group that never committed has no rows. */
export function consumerLag(kafka: Kafka, groups: string[]): Promise<LagRow[]> {
  return withAdmin(kafka, async (admin) => {
    const rows: LagRow[] = [];
    const ends = new Map<string, Map<number, { high: string; low: string }>>();
    for (const group of groups) {
      for (const t of await admin.fetchOffsets({ groupId: group })) {
        if (!ends.has(t.topic)) {
          const offsets = await admin.fetchTopicOffsets(t.topic);
          ends.set(t.topic, new Map(offsets.map((o) => [o.partition, o])));
        }
        for (const p of t.partitions) {
          const end = ends.get(t.topic)!.get(p.partition);
          if (!end) continue;
          rows.push({
            group,
            topic: t.topic,
            partition: p.partition,
            lag: partitionLag(p.offset, end.high, end.low),
          });
        }
      }
    }
    return rows;
  });
}

/** One record by position, or undefined when there is none (compacted, expired or past the end). */
export async function readRecord(
  kafka: Kafka,
  topic: string,
  at: { partition: number; offset: number },
): Promise<DeadLetter | undefined> {
  const topics = await existingTopics(kafka, [topic]);
  if (topics.length === 0) return undefined;
  const [record] = await readDeadLetters(kafka, topics, { at, timeoutMs: 15_000 });
  return record && Number(record.offset) === at.offset ? record : undefined;
}

/** Every record of one DLQ (the toolkit's read: start to the current end, a throwaway group). */
export async function readDlq(kafka: Kafka, topic: string): Promise<DeadLetter[]> {
  const topics = await existingTopics(kafka, [topic]);
  return topics.length === 0 ? [] : readDeadLetters(kafka, topics, { timeoutMs: 15_000 });
}

/**
 * Dead-letter counts per DLQ and reason, re-read every `intervalMs` in the background so no page waits for
 * it; also the gauge `storeline_dlq_records{topic,reason}`. Reasons are cut to their first line (120
 * characters) to keep the label set small.
 */
export class DlqCounts {
  private counts: DlqCount[] = [];
  private readAt: number | null = null;
  private lastError: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly deps: { kafka: Kafka; names: TopicNames; logger: Logger; intervalMs: number },
  ) {}

  register(metrics: Registry): void {
    const current = () => this.counts;
    new Gauge({
      name: 'storeline_dlq_records',
      help: 'Records in each dead-letter topic by reason (first line), as of the console’s last read',
      labelNames: ['topic', 'reason'],
      registers: [metrics],
      collect() {
        this.reset();
        for (const c of current()) this.set({ topic: c.topic, reason: c.reason }, c.count);
      },
    });
  }

  get snapshot(): { counts: DlqCount[]; readAt: number | null; error: string | null } {
    return { counts: this.counts, readAt: this.readAt, error: this.lastError };
  }

  start(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.deps.intervalMs);
    this.timer.unref();
  }

  /** Reads every DLQ now (a read in progress is joined, not doubled). */
  refresh(): Promise<void> {
    this.running ??= this.read().finally(() => (this.running = undefined));
    return this.running;
  }

  private async read(): Promise<void> {
    try {
      const wanted = catalogDlqs(this.deps.names).map((d) => d.name);
      const topics = await existingTopics(this.deps.kafka, wanted);
      const records = topics.length
        ? await readDeadLetters(this.deps.kafka, topics, { timeoutMs: 30_000 })
        : [];
      this.counts = countByReason(records);
      this.readAt = Date.now();
      this.lastError = null;
    } catch (err) {
      this.lastError = errorMessage(err);
      this.deps.logger.warn({ err: this.lastError }, 'dead-letter counts could not be read');
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}

export type LiveMessage =
  { kind: 'event'; event: SubscriptionEvent } | { kind: 'undecodable'; reason: string };

/**
 * Canonical events as they arrive, from a consumer in the console's own group that starts at the end and
 * never commits (a restart starts at the end again): what the page shows is live, not a replay.
 */
export class LiveStream {
  private consumer: Consumer | undefined;
  private readonly listeners = new Set<(m: LiveMessage) => void>();
  private fetched = false;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      kafka: Kafka;
      topic: string;
      groupId: string;
      codec: AvroCodec<SubscriptionEvent>;
      logger: Logger;
    },
  ) {}

  /** True once the consumer has joined and fetched: from then on every new event reaches the listeners. */
  get ready(): boolean {
    return this.fetched;
  }

  subscribe(fn: (m: LiveMessage) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Joins in the background: a missing topic (a fresh cluster before the services created the catalog) or a
   * broker that is down is retried every `retryMs` rather than failing the console, whose other pages work.
   */
  start(retryMs = 5_000): void {
    const attempt = async (): Promise<void> => {
      if (this.stopped) return;
      try {
        await this.join();
        this.deps.logger.info({ topic: this.deps.topic, groupId: this.deps.groupId }, 'live stream joined');
      } catch (err) {
        this.deps.logger.warn(
          { err: errorMessage(err), topic: this.deps.topic },
          'live stream not joined; retrying',
        );
        await this.consumer?.disconnect().catch(() => undefined);
        this.retry = setTimeout(() => void attempt(), retryMs);
      }
    };
    void attempt();
  }

  private async join(): Promise<void> {
    const consumer = this.deps.kafka.consumer({ groupId: this.deps.groupId, readUncommitted: false });
    this.consumer = consumer;
    consumer.on(consumer.events.FETCH, () => (this.fetched = true));
    consumer.on(consumer.events.GROUP_JOIN, () => (this.fetched = false));
    await consumer.connect();
    await consumer.subscribe({ topics: [this.deps.topic], fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        if (this.listeners.size === 0 || !message.value) return;
        let m: LiveMessage;
        try {
          m = { kind: 'event', event: await this.deps.codec.decode(message.value) };
        } catch (err) {
          m = { kind: 'undecodable', reason: errorMessage(err) };
        }
        for (const fn of this.listeners) fn(m);
      },
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.consumer?.disconnect();
  }
}
