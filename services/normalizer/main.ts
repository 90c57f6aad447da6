/** normalizer: wiring only (config, clients, start, SIGTERM). */
import { consumerReady, onShutdownSignal, runMain, trackJoined } from '../../lib/platform/lifecycle';
import { codecFor, createRegistry } from '../../lib/platform/avro';
import { loadConfigOrExit } from '../../lib/platform/config';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import { closeServer, createMetricsRegistry, express, listen, mountOps } from '../../lib/platform/http';
import { createKafka } from '../../lib/platform/kafka';
import { createLogger } from '../../lib/platform/logger';
import { TopicNames } from '../../lib/core/topics';
import { NormalizerConfig } from './config';
import { readFileSync } from 'node:fs';
import { HttpPlayApi, serviceAccountToken, staticToken } from '../../lib/adapters/play/api';
import { createPlayProcessor } from '../../lib/core/play/processor';
import { PgPlayRepo, PLAY_MIGRATIONS } from '../../lib/adapters/play/repo';
import { probeDatabase } from '../../lib/platform/db';
import { migratedPool } from '../../lib/platform/bootstrap';
import { CLAIM_MIGRATIONS, PgNotificationClaims } from '../../lib/adapters/normalizer/claims';
import { createNormalizer } from '../../lib/adapters/normalizer/normalizer';

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
  const codec = codecFor<SubscriptionEvent>(
    createRegistry(config.SCHEMA_REGISTRY_URL),
    names,
    'subscriptionEvents',
  );
  await codec.register();
  const metrics = createMetricsRegistry(SERVICE);
  const pool = await migratedPool(
    config.DATABASE_URL,
    config.NORMALIZER_DB_SCHEMA,
    [...PLAY_MIGRATIONS, ...CLAIM_MIGRATIONS],
    logger,
  );
  let play;
  if (config.PLAY_API_TOKEN || config.PLAY_SERVICE_ACCOUNT_KEY_FILE) {
    const accessToken = config.PLAY_API_TOKEN
      ? staticToken(config.PLAY_API_TOKEN)
      : serviceAccountToken(JSON.parse(readFileSync(config.PLAY_SERVICE_ACCOUNT_KEY_FILE as string, 'utf8')));
    play = createPlayProcessor({
      api: new HttpPlayApi({ rootUrl: config.PLAY_API_ROOT_URL, accessToken }),
      repo: new PgPlayRepo(pool),
      logger,
      acknowledge: config.PLAY_ACKNOWLEDGE,
    });
  } else {
    logger.warn(
      'no PLAY_API_TOKEN or PLAY_SERVICE_ACCOUNT_KEY_FILE: the Play Store raw topic is not consumed',
    );
  }
  const normalizer = createNormalizer({
    play,
    kafka,
    logger,
    names,
    codec,
    metrics,
    groupId: config.NORMALIZER_GROUP_ID,
    transactionalIdPrefix: config.NORMALIZER_TRANSACTIONAL_ID,
    maxRecordsPerTransaction: config.NORMALIZER_MAX_RECORDS_PER_TXN,
    sessionTimeoutMs: config.NORMALIZER_SESSION_TIMEOUT_MS,
    claims: new PgNotificationClaims(pool),
    probes: { database: () => probeDatabase(pool) },
    stallAfterMs: config.CONSUMER_STALL_AFTER_MS,
    exitAfterMs: config.CONSUMER_EXIT_AFTER_MS,
  });
  trackJoined(normalizer.consumer, metrics);
  await normalizer.start();

  const app = express();
  mountOps(app, {
    metrics,
    ready: consumerReady({ guard: normalizer, registryUrl: config.SCHEMA_REGISTRY_URL, pool }),
  });
  const server = await listen(app, config.PORT);
  logger.info({ port: config.PORT, groupId: config.NORMALIZER_GROUP_ID }, 'normalizing');

  onShutdownSignal(logger, async () => {
    await normalizer.stop();
    await closeServer(server, 2000);
    await pool.end();
  });
}

runMain(SERVICE, main);
