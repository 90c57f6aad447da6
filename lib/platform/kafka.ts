/**
 * Kafka client factories shared by every service. kafkajs is in maintenance mode (tulios/kafkajs#1603) but
 * is the design card's client; it speaks protocol versions the 3.x/4.x brokers still accept.
 */
import {
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type LogEntry,
  type Producer,
  type ITopicConfig,
} from 'kafkajs';
import { assertKafkajsPatched } from './kafkajsPatches';
import { kafkajsLevel } from './kafkaLog';
import type { Logger } from './logger';
import { TopicNames } from '../core/topics';

export function createKafka(opts: { brokers: string[]; clientId: string; logger: Logger }): Kafka {
  assertKafkajsPatched();
  const log = opts.logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    // kafkajs INFO lines are chatty (every join/commit); keep WARN and above unless debugging.
    logLevel: log.isLevelEnabled('debug') ? logLevel.DEBUG : logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        log[kafkajsLevel(level, message, rest)](rest, message);
      },
  });
}

/**
 * Idempotent producer with acks=all (kafkajs' default acks is -1). Used where a record must be durable
 * before we answer (receivers). Retries are bounded so a dead cluster surfaces as an error the caller can
 * turn into a 503 instead of a request that hangs; a retried publish may duplicate, which downstream
 * deduplication by notification id absorbs.
 */
export function createIdempotentProducer(kafka: Kafka, opts: { retries?: number } = {}): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: opts.retries ?? 3, initialRetryTime: 100, maxRetryTime: 2000 },
  });
}

/** Creates every catalog topic that is missing (idempotent; existing topics are left as they are). */
export async function ensureTopics(
  admin: Admin,
  names: TopicNames,
  opts: { replicationFactor?: number } = {},
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing: ITopicConfig[] = names
    .all()
    .filter((t) => !existing.has(t.name))
    .map((t) => ({
      topic: t.name,
      numPartitions: t.spec.partitions,
      replicationFactor: opts.replicationFactor ?? -1,
      configEntries: Object.entries(t.spec.config).map(([name, value]) => ({ name, value })),
    }));
  if (missing.length > 0) {
    try {
      // kafkajs' own waitForLeaders gives up on the first UNKNOWN_TOPIC_OR_PARTITION, which a broker of a
      // fresh multi-broker cluster answers until the controller's metadata reaches it; we wait ourselves.
      await admin.createTopics({ topics: missing, waitForLeaders: false });
    } catch (err) {
      // Another instance may have created them between list and create.
      if (!(err instanceof Error && /already exists/i.test(err.message))) throw err;
    }
    await waitForLeaders(
      admin,
      missing.map((t) => t.topic),
    );
  }
  return missing.map((t) => t.topic);
}

/** Resolves once every partition of `topics` has a leader; any metadata error before that is retried. */
export async function waitForLeaders(admin: Admin, topics: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics });
      const led = meta.topics.every(
        (t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0),
      );
      if (led && meta.topics.length === topics.length) return;
      last = new Error('some partitions have no leader yet');
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`topics ${topics.join(', ')} have no leaders after ${timeoutMs} ms: ${String(last)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export type Headers = Record<string, string>;

/** kafkajs header values arrive as Buffer | string | array; read them as strings. */
export function readHeaders(raw: Record<string, unknown> | undefined): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(raw ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first === undefined || first === null) continue;
    out[k] = Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
  }
  return out;
}
