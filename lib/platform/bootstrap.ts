/** Start-up work shared by `storeline topics create`, `npm start` and the services' main.ts. */
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Kafka, Producer } from 'kafkajs';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import { AvroCodec, createRegistry, probeRegistry } from './avro';
import type { GuardTuning } from './consumerGuard';
import { KafkaPublisher } from './publisher';
import { createPool, migrate, probeDatabase, type Migration } from './db';
import { createIdempotentProducer, createKafka, ensureTopics } from './kafka';
import type { Logger } from './logger';
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
export async function connectClients(
  service: string,
  config: {
    KAFKA_BROKERS: string[];
    SCHEMA_REGISTRY_URL: string;
    TOPIC_PREFIX: string;
    KAFKA_CLIENT_ID?: string | undefined;
  },
  logger: Logger,
): Promise<{ names: TopicNames; registry: SchemaRegistry; kafka: Kafka; producer: Producer }> {
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

/** A canonical consumer's ConsumerGuard settings from its config (`consumerGuardEnv`): probes and bounds. */
export function guardTuning(
  config: { SCHEMA_REGISTRY_URL: string; CONSUMER_STALL_AFTER_MS: number; CONSUMER_EXIT_AFTER_MS: number },
  pool: Pool,
): GuardTuning {
  return {
    probes: {
      database: () => probeDatabase(pool),
      registry: () => probeRegistry(config.SCHEMA_REGISTRY_URL),
    },
    stallAfterMs: config.CONSUMER_STALL_AFTER_MS,
    exitAfterMs: config.CONSUMER_EXIT_AFTER_MS,
  };
}
