/** normalizer: clients, the Play path when credentialed, the transactional loop (the runner does the rest). */
import { readFileSync } from 'node:fs';
import { codecFor, createRegistry } from '../../lib/platform/avro';
import { migratedPool } from '../../lib/platform/bootstrap';
import { probeDatabase } from '../../lib/platform/db';
import { createKafka } from '../../lib/platform/kafka';
import { consumerReady, trackJoined } from '../../lib/platform/lifecycle';
import type { Logger } from '../../lib/platform/logger';
import { runService } from '../../lib/platform/service';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import type { PlayNormalize } from '../../lib/core/ingest/normalize';
import { createPlayProcessor } from '../../lib/core/play/processor';
import { TopicNames } from '../../lib/core/topics';
import { HttpPlayApi, serviceAccountToken, staticToken } from '../../lib/adapters/play/api';
import { PgPlayRepo, PLAY_MIGRATIONS } from '../../lib/adapters/play/repo';
import { CLAIM_MIGRATIONS, PgNotificationClaims } from '../../lib/adapters/normalizer/claims';
import { createNormalizer } from '../../lib/adapters/normalizer/normalizer';
import { NormalizerConfig } from './config';
import type { Pool } from 'pg';

const SERVICE = 'normalizer';

/** The Play path needs Play Developer API credentials; without them the Play raw topic is not consumed. */
function playPath(config: NormalizerConfig, pool: Pool, logger: Logger): PlayNormalize | undefined {
  if (!config.PLAY_API_TOKEN && !config.PLAY_SERVICE_ACCOUNT_KEY_FILE) {
    logger.warn(
      'no PLAY_API_TOKEN or PLAY_SERVICE_ACCOUNT_KEY_FILE: the Play Store raw topic is not consumed',
    );
    return undefined;
  }
  const accessToken = config.PLAY_API_TOKEN
    ? staticToken(config.PLAY_API_TOKEN)
    : serviceAccountToken(JSON.parse(readFileSync(config.PLAY_SERVICE_ACCOUNT_KEY_FILE as string, 'utf8')));
  return createPlayProcessor({
    api: new HttpPlayApi({ rootUrl: config.PLAY_API_ROOT_URL, accessToken }),
    repo: new PgPlayRepo(pool),
    logger,
    acknowledge: config.PLAY_ACKNOWLEDGE,
  });
}

runService({
  name: SERVICE,
  config: NormalizerConfig,
  async start({ config, logger, metrics }) {
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
    const pool = await migratedPool(
      config.DATABASE_URL,
      config.NORMALIZER_DB_SCHEMA,
      [...PLAY_MIGRATIONS, ...CLAIM_MIGRATIONS],
      logger,
    );
    const normalizer = createNormalizer({
      play: playPath(config, pool, logger),
      kafka,
      logger,
      names,
      codec,
      metrics,
      groupId: config.NORMALIZER_GROUP_ID,
      transactionalIdPrefix: config.NORMALIZER_TRANSACTIONAL_ID,
      maxRecordsPerTransaction: config.NORMALIZER_MAX_RECORDS_PER_TXN,
      partitionsConcurrently: config.NORMALIZER_CONCURRENT_PARTITIONS,
      sessionTimeoutMs: config.NORMALIZER_SESSION_TIMEOUT_MS,
      claims: new PgNotificationClaims(pool),
      probes: { database: () => probeDatabase(pool) },
      stallAfterMs: config.CONSUMER_STALL_AFTER_MS,
      exitAfterMs: config.CONSUMER_EXIT_AFTER_MS,
      lingerMs: config.CONSUMER_LINGER_MS,
    });
    trackJoined(normalizer.consumer, metrics);
    await normalizer.start();
    return {
      ready: consumerReady({ guard: normalizer, registryUrl: config.SCHEMA_REGISTRY_URL, pool }),
      port: config.PORT,
      listening: [{ port: config.PORT, groupId: config.NORMALIZER_GROUP_ID }, 'normalizing'],
      closeGraceMs: 2000,
      // The loop first: its transactions finish or abort before the ops endpoints go away.
      shutdown: [() => normalizer.stop(), 'server', () => pool.end()],
    };
  },
});
