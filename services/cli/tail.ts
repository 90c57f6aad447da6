/**
 * `storeline tail [--from-beginning] [--type T,...] [--store S] [--limit N] [--until-end]`: the canonical
 * topic as decoded JSON, one event per line. Reads committed records only, in a throwaway consumer group
 * that never commits, so it is invisible to the services' groups and lag.
 */
import { parseArgs } from 'node:util';
import type { Consumer, Kafka } from 'kafkajs';
import pino from 'pino';
import { z } from 'zod';
import { codecFor, createRegistry, type AvroCodec } from '../../lib/platform/avro';
import { kafkaEnv, parseConfig } from '../../lib/platform/config';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import { createKafka } from '../../lib/platform/kafka';
import { TopicNames } from '../../lib/core/topics';

const USAGE =
  'usage: storeline tail [--from-beginning] [--type T[,T…]] [--store APP_STORE|PLAY_STORE] [--limit N] [--until-end]\n' +
  '  (reads KAFKA_BROKERS, SCHEMA_REGISTRY_URL, TOPIC_PREFIX; defaults: the embedded local stack)\n';

/** An operator's first look is usually at the embedded stack: its addresses are the defaults. */
const LOCAL_STACK = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7',
};

/** How long --until-end waits for a record before it takes the topic as read to its end. */
const QUIET_MS = 3000;

interface TailFilter {
  types?: Set<string>;
  store?: string;
}

function matches(e: SubscriptionEvent, f: TailFilter): boolean {
  return (!f.types || f.types.has(e.type)) && (!f.store || e.store === f.store);
}

function options(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      'from-beginning': { type: 'boolean', default: false },
      'until-end': { type: 'boolean', default: false },
      type: { type: 'string' },
      store: { type: 'string' },
      limit: { type: 'string' },
    },
  });
  const limit = values.limit === undefined ? Infinity : Number(values.limit);
  if (!(limit > 0)) throw new Error(`--limit must be a positive number, got ${values.limit}`);
  const filter: TailFilter = {
    types: values.type ? new Set(values.type.split(',').map((t) => t.trim().toUpperCase())) : undefined,
    store: values.store?.toUpperCase(),
  };
  return { fromBeginning: values['from-beginning'], untilEnd: values['until-end'], limit, filter };
}

export async function runTail(args: string[], env = process.env): Promise<number> {
  let opts: ReturnType<typeof options>;
  try {
    opts = options(args);
  } catch (err) {
    process.stderr.write(`storeline tail: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 2;
  }
  const parsed = parseConfig(z.object(kafkaEnv), { ...LOCAL_STACK, ...env });
  if (!parsed.ok) {
    process.stderr.write(
      `storeline tail: invalid configuration\n${parsed.problems.map((p) => `  - ${p}\n`).join('')}`,
    );
    return 2;
  }
  const { config } = parsed;
  // stdout carries the events; the client's own warnings go to stderr.
  const logger = pino({ name: 'storeline-tail', level: 'warn' }, pino.destination(2));
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'storeline-tail', logger });
  const names = new TopicNames(config.TOPIC_PREFIX);
  return tail(kafka, names, createRegistry(config.SCHEMA_REGISTRY_URL), opts);
}

async function tail(
  kafka: Kafka,
  names: TopicNames,
  registry: ReturnType<typeof createRegistry>,
  opts: ReturnType<typeof options>,
): Promise<number> {
  const topic = names.name('subscriptionEvents');
  if (!(await topicExists(kafka, topic))) {
    process.stderr.write(
      `storeline tail: topic ${topic} does not exist yet; start the pipeline (npm start) or run \`storeline topics create\`\n`,
    );
    return 1;
  }
  const consumer = kafka.consumer({
    groupId: `storeline-tail-${process.pid}-${Date.now()}`,
    readUncommitted: false,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
      consume(consumer, topic, codecFor(registry, names, 'subscriptionEvents'), opts, resolve).catch(reject);
    });
    return 0;
  } catch (err) {
    process.stderr.write(`storeline tail: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await consumer.disconnect();
  }
}

async function topicExists(kafka: Kafka, topic: string): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).includes(topic);
  } finally {
    await admin.disconnect();
  }
}

/** Prints matching events; calls `stop` at --limit, or (--until-end) once the topic has been quiet a while. */
async function consume(
  consumer: Consumer,
  topic: string,
  codec: AvroCodec<SubscriptionEvent>,
  opts: ReturnType<typeof options>,
  stop: () => void,
): Promise<void> {
  let printed = 0;
  let lastRecordAt = Date.now();
  if (opts.untilEnd) {
    // The quiet period counts from joining the group: the join itself can take seconds.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      lastRecordAt = Date.now();
      const timer = setInterval(
        () => Date.now() - lastRecordAt > QUIET_MS && (clearInterval(timer), stop()),
        250,
      );
    });
  }
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: opts.fromBeginning });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message }) => {
      lastRecordAt = Date.now();
      if (!message.value || printed >= opts.limit) return;
      const event = await codec.decode(message.value);
      if (!matches(event, opts.filter)) return;
      process.stdout.write(`${JSON.stringify(event)}\n`);
      if (++printed >= opts.limit) stop();
    },
  });
}
