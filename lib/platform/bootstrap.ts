/** Start-up work shared by `storeline topics create`, `npm start` and the services' main.ts. */
import type { Express } from 'express';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import {
  AvroCodec,
  codecFor,
  createRegistry,
  probeRegistry,
  type AvroTopicId,
  type RegistryClient,
} from './avro';
import type { SubscriptionEvent } from '../core/generated/avro';
import type { GuardTuning, Readiness } from './consumerGuard';
import { consumerReady, trackJoined } from './lifecycle';
import { KafkaPublisher } from './publisher';
import { createPool, migrate, probeDatabase, type Migration } from './db';
import { createIdempotentProducer, createKafka, ensureTopics } from './kafka';
import type { Logger } from './logger';
import type { Started } from './service';
import { TopicNames, type TopicSpec } from '../core/topics';

export async function bootstrapTopicsAndSchemas(
  kafka: Kafka,
  registryUrl: string,
  names: TopicNames,
): Promise<{ created: string[]; subjects: { subject: string; id: number }[] }> {
  const admin = kafka.admin();
  await admin.connect();
  let created: string[];
  try {
    created = await ensureTopics(admin, names);
  } finally {
    await admin.disconnect();
  }
  const registry = createRegistry(registryUrl);
  const subjects: { subject: string; id: number }[] = [];
  for (const t of names.all()) {
    const value: TopicSpec['value'] = t.spec.value;
    if (value.format !== 'avro') continue;
    const subject = names.subject(t.id);
    const id = await new AvroCodec(registry, subject, value.schema).register();
    subjects.push({ subject, id });
  }
  return { created, subjects };
}

/**
 * The clients every consumer service's main.ts builds the same way: topic names under the prefix, the
 * registry client, Kafka, and a connected idempotent producer (for outputs and dead letters).
 */
async function connectClients(
  service: string,
  config: {
    KAFKA_BROKERS: string[];
    SCHEMA_REGISTRY_URL: string;
    TOPIC_PREFIX: string;
    KAFKA_CLIENT_ID?: string | undefined;
  },
  logger: Logger,
): Promise<{ names: TopicNames; registry: RegistryClient; kafka: Kafka; producer: Producer }> {
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: config.KAFKA_CLIENT_ID ?? service,
    logger,
  });
  const producer = createIdempotentProducer(kafka, { retries: 10 });
  await producer.connect();
  return {
    names: new TopicNames(config.TOPIC_PREFIX),
    registry: createRegistry(config.SCHEMA_REGISTRY_URL),
    kafka,
    producer,
  };
}

/** What a canonical consumer's main.ts connects: its migrated pool, the clients, and its registered codecs. */
export interface ConsumerClients<T> extends Awaited<ReturnType<typeof connectClients>> {
  pool: Pool;
  eventCodec: AvroCodec<SubscriptionEvent>;
  /** The codec of the Avro topic it writes, when it writes one. */
  outputCodec: AvroCodec<T> | undefined;
}

/**
 * The start of every canonical consumer (state, triggers, fan-out), done one way: the pool on its schema
 * with migrations, Kafka, the registry and a producer, the canonical codec and its output's, registered.
 */
type ConsumerConfig = Parameters<typeof connectClients>[1] & { DATABASE_URL: string };
type ConsumerDb = { schema: string; migrations: Migration[]; poolSize?: number };

export async function connectConsumer<T>(
  service: string,
  config: ConsumerConfig,
  logger: Logger,
  db: ConsumerDb,
  output: AvroTopicId,
): Promise<ConsumerClients<T> & { outputCodec: AvroCodec<T> }>;
export async function connectConsumer<T>(
  service: string,
  config: ConsumerConfig,
  logger: Logger,
  db: ConsumerDb,
  output?: AvroTopicId,
): Promise<ConsumerClients<T>>;
export async function connectConsumer<T>(
  service: string,
  config: ConsumerConfig,
  logger: Logger,
  db: ConsumerDb,
  output?: AvroTopicId,
): Promise<ConsumerClients<T>> {
  const pool = await migratedPool(config.DATABASE_URL, db.schema, db.migrations, logger, db.poolSize);
  const clients = await connectClients(service, config, logger);
  const eventCodec = codecFor<SubscriptionEvent>(clients.registry, clients.names, 'subscriptionEvents');
  const outputCodec = output ? codecFor<T>(clients.registry, clients.names, output) : undefined;
  await Promise.all([eventCodec.register(), outputCodec?.register()]);
  return { ...clients, pool, eventCodec, outputCodec };
}

/** A canonical consumer's worker, as the runner needs it. */
interface ConsumerWorker {
  consumer: Consumer;
  start(): Promise<void>;
  stop(): Promise<void>;
  readiness(): Promise<Readiness>;
}

/**
 * Starts a canonical consumer's worker and says what its spec shares with the others: readiness from the
 * worker's guard, the registry and the database; shutdown in order server, worker, `extra`, producer, pool.
 */
export async function startConsumer(
  worker: ConsumerWorker,
  clients: Pick<ConsumerClients<unknown>, 'pool' | 'producer'>,
  config: { SCHEMA_REGISTRY_URL: string },
  metrics: Registry,
  extra: (() => Promise<unknown> | unknown)[] = [],
): Promise<Pick<Started, 'ready' | 'shutdown'>> {
  trackJoined(worker.consumer, metrics);
  await worker.start();
  const { pool, producer } = clients;
  return {
    ready: consumerReady({ guard: worker, registryUrl: config.SCHEMA_REGISTRY_URL, pool }),
    shutdown: ['server', () => worker.stop(), ...extra, () => producer.disconnect(), () => pool.end()],
  };
}

/** A pool on the service's own schema with its migrations applied (logged when any were new). */
export async function migratedPool(
  url: string,
  schema: string,
  migrations: Migration[],
  logger: Logger,
  max?: number,
): Promise<Pool> {
  const pool = createPool(url, schema, max, logger);
  const applied = await migrate(pool, schema, migrations);
  if (applied.length) logger.info({ schema, applied }, 'migrations applied');
  return pool;
}

/** The receivers' publisher from their shared config (`publisherEnv`), connected. */
export async function startPublisher(
  service: string,
  kafka: Kafka,
  config: { PUBLISH_TIMEOUT_MS: number; PUBLISH_QUEUE_MAX_RECORDS: number; PUBLISH_QUEUE_MAX_BYTES: number },
  logger: Logger,
  metrics: Registry,
): Promise<KafkaPublisher> {
  const publisher = new KafkaPublisher({
    createProducer: () => createIdempotentProducer(kafka),
    createAdmin: () => kafka.admin(),
    timeoutMs: config.PUBLISH_TIMEOUT_MS,
    maxQueueRecords: config.PUBLISH_QUEUE_MAX_RECORDS,
    maxQueueBytes: config.PUBLISH_QUEUE_MAX_BYTES,
    logger,
    metrics,
    component: service,
  });
  await publisher.start();
  return publisher;
}

/** What a receiver's start returns: its app, ready while its publisher can publish, the publisher stopped last. */
export function receiverStarted(
  app: Express,
  publisher: KafkaPublisher,
  config: { PORT: number; HOST?: string },
  listening: object,
): Started {
  return {
    app,
    ready: () => publisher.readiness(),
    port: config.PORT,
    host: config.HOST,
    listening: [listening, 'listening'],
    shutdown: ['server', () => publisher.stop()],
  };
}

/** A canonical consumer's ConsumerGuard settings from its config (`consumerGuardEnv`): probes and bounds. */
export function guardTuning(
  config: {
    SCHEMA_REGISTRY_URL: string;
    CONSUMER_STALL_AFTER_MS: number;
    CONSUMER_EXIT_AFTER_MS: number;
    CONSUMER_LINGER_MS: number;
  },
  pool: Pool,
): GuardTuning {
  return {
    probes: {
      database: () => probeDatabase(pool),
      registry: () => probeRegistry(config.SCHEMA_REGISTRY_URL),
    },
    stallAfterMs: config.CONSUMER_STALL_AFTER_MS,
    exitAfterMs: config.CONSUMER_EXIT_AFTER_MS,
    lingerMs: config.CONSUMER_LINGER_MS,
  };
}
