/** normalizer: wiring only (config, clients, start, SIGTERM). */
import { AvroCodec, createRegistry } from '../shared/avro';
import { loadConfigOrExit } from '../shared/config';
import type { SubscriptionEvent } from '../shared/generated/avro';
import { closeServer, createMetricsRegistry, express, listen, mountOps } from '../shared/http';
import { createKafka } from '../shared/kafka';
import { createLogger } from '../shared/logger';
import { TOPICS, TopicNames } from '../shared/topics';
import { NormalizerConfig } from './config';
import { createNormalizer } from './normalizer';

const SERVICE = 'normalizer';

async function main(): Promise<void> {
  const config = loadConfigOrExit(SERVICE, NormalizerConfig);
  const logger = createLogger(SERVICE, config.LOG_LEVEL);
  const names = new TopicNames(config.TOPIC_PREFIX);
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: config.KAFKA_CLIENT_ID ?? SERVICE,
    logger,
  });
  const codec = new AvroCodec<SubscriptionEvent>(
    createRegistry(config.SCHEMA_REGISTRY_URL),
    names.subject('subscriptionEvents'),
    TOPICS.subscriptionEvents.value.schema,
  );
  await codec.register();
  const metrics = createMetricsRegistry(SERVICE);
  const normalizer = createNormalizer({
    kafka,
    logger,
    names,
    codec,
    metrics,
    groupId: config.NORMALIZER_GROUP_ID,
    transactionalIdPrefix: config.NORMALIZER_TRANSACTIONAL_ID,
    maxRecordsPerTransaction: config.NORMALIZER_MAX_RECORDS_PER_TXN,
    sessionTimeoutMs: config.NORMALIZER_SESSION_TIMEOUT_MS,
  });
  let joined = false;
  normalizer.consumer.on(normalizer.consumer.events.GROUP_JOIN, () => (joined = true));
  normalizer.consumer.on(normalizer.consumer.events.CRASH, () => (joined = false));
  await normalizer.start();

  const app = express();
  mountOps(app, { metrics, ready: () => joined });
  const server = await listen(app, config.PORT);
  logger.info({ port: config.PORT, groupId: config.NORMALIZER_GROUP_ID }, 'normalizing');

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'shutting down: finishing the transaction in flight');
    await normalizer.stop();
    await closeServer(server, 2000);
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`${SERVICE}: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
