/**
 * Integration-test helpers in the style of kafkajs' testHelpers: random names for isolation, and waits on
 * conditions (messages arrived, consumer joined) with a deadline instead of sleeps.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { createLogger } from '../../lib/platform/logger';
import { ensureTopics, waitForLeaders } from '../../lib/platform/kafka';
import { TopicNames } from '../../lib/core/topics';
import { stackEnv } from './env';

export const testLogger = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');

/**
 * A fresh name: `<prefix>-<run tag><8 hex>`. The run tag (globalSetup's STORELINE_TEST_RUN) lets the
 * teardown remove exactly this run's subjects, topics and groups (test/support/cleanup.ts).
 */
export function randomId(prefix = 'test'): string {
  const run = process.env.STORELINE_TEST_RUN ?? randomBytes(2).toString('hex');
  return `${prefix}-${run}${randomBytes(4).toString('hex')}`;
}

/**
 * Retries for the tests' own clients: right after a topic is created, its partition leader can answer
 * UNKNOWN_TOPIC_OR_PARTITION until it has applied the new metadata (seconds on a loaded 2-core machine,
 * more than kafkajs' default retry budget). The error is retriable; the tests just wait longer for it.
 */
export const TEST_RETRY = { retries: 12, initialRetryTime: 200, maxRetryTime: 5000 };

export function testKafka(clientId = randomId('client')): Kafka {
  return new Kafka({ clientId, brokers: stackEnv().brokers, logLevel: logLevel.NOTHING, retry: TEST_RETRY });
}

/** A fresh prefix with every catalog topic created under it. */
export async function createCatalogTopics(kafka: Kafka): Promise<TopicNames> {
  const names = new TopicNames(`${randomId('t')}.`);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, names);
  } finally {
    await admin.disconnect();
  }
  return names;
}

export async function createTopic(kafka: Kafka, topic: string, numPartitions = 1): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: false });
    await waitForLeaders(admin, [topic]);
  } finally {
    await admin.disconnect();
  }
}

export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 60_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    // A Kafka error kafkajs calls retriable (a leader moving, metadata not yet everywhere) means "not yet".
    const v = await Promise.resolve()
      .then(check)
      .catch((err: unknown) => {
        if ((err as { retriable?: unknown } | null)?.retriable !== true) throw err;
        lastError = err;
        return undefined;
      });
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) {
      const last = lastError ? ` (last error: ${String(lastError)})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface Collected {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

/** Starts a consumer that collects every record of `topics` from the beginning. */
export async function collect(
  kafka: Kafka,
  topics: string[],
  opts: { readUncommitted?: boolean } = {},
): Promise<{ records: Collected[]; consumer: Consumer; stop: () => Promise<void> }> {
  const records: Collected[] = [];
  const consumer = kafka.consumer({
    groupId: randomId('collector'),
    readUncommitted: opts.readUncommitted ?? false,
  });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      records.push({ topic, partition, message });
    },
  });
  return { records, consumer, stop: () => consumer.disconnect() };
}

/** Waits until `records` holds at least `n` entries matching `filter`. */
export async function waitForRecords(
  records: Collected[],
  n: number,
  filter: (r: Collected) => boolean = () => true,
  timeoutMs = 60_000,
): Promise<Collected[]> {
  return waitFor(
    `${n} records`,
    () => {
      const hit = records.filter(filter);
      return hit.length >= n ? hit : undefined;
    },
    timeoutMs,
  );
}

/**
 * Reads every record on `topic` up to now, exactly: writes a fence record to each partition and collects
 * until every partition's fence has arrived. Producers that wrote to the topic must have stopped first.
 */
export async function drainTopic(kafka: Kafka, topic: string, timeoutMs = 60_000): Promise<Collected[]> {
  const admin = kafka.admin();
  await admin.connect();
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  await admin.disconnect();
  const partitions = (meta.topics[0]?.partitions ?? []).map((p) => p.partitionId);
  const fenceId = randomId('fence');
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    messages: partitions.map((partition) => ({
      partition,
      value: fenceId,
      headers: { 'test-fence': fenceId },
    })),
  });
  await producer.disconnect();
  const sink = await collect(kafka, [topic]);
  const isFence = (r: Collected) => r.message.headers?.['test-fence']?.toString() === fenceId;
  try {
    await waitForRecords(sink.records, partitions.length, isFence, timeoutMs);
  } finally {
    await sink.stop();
  }
  return sink.records.filter((r) => !r.message.headers?.['test-fence']);
}
