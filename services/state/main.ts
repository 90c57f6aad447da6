/** state-aggregator: wiring only (config, migrations, clients, consumer + query API, SIGTERM). */
import { consumerReady, onShutdownSignal, runMain, trackJoined } from '../../lib/platform/lifecycle';
import { codecFor } from '../../lib/platform/avro';
import { connectClients, guardTuning, migratedPool } from '../../lib/platform/bootstrap';
import { loadConfigOrExit } from '../../lib/platform/config';
import type { SubscriptionEvent, SubscriptionState } from '../../lib/core/generated/avro';
import { closeServer, createMetricsRegistry, listen, mountOps } from '../../lib/platform/http';
import { createLogger } from '../../lib/platform/logger';
import { createAggregator } from '../../lib/adapters/state/aggregator';
import { createStateApi } from './app';
import { StateAggregatorConfig } from './config';
import { STATE_MIGRATIONS } from '../../lib/adapters/state/migrations';

const SERVICE = 'state-aggregator';

async function main(): Promise<void> {
  const config = loadConfigOrExit(SERVICE, StateAggregatorConfig);
  const logger = createLogger(SERVICE, config.LOG_LEVEL);
  const pool = await migratedPool(config.DATABASE_URL, config.STATE_DB_SCHEMA, STATE_MIGRATIONS, logger);
  const { names, registry, kafka, producer } = await connectClients(SERVICE, config, logger);
  const eventCodec = codecFor<SubscriptionEvent>(registry, names, 'subscriptionEvents');
  const stateCodec = codecFor<SubscriptionState>(registry, names, 'subscriptionState');
  await Promise.all([eventCodec.register(), stateCodec.register()]);
  const metrics = createMetricsRegistry(SERVICE);
  const aggregator = createAggregator({
    kafka,
    pool,
    producer,
    eventCodec,
    stateCodec,
    names,
    logger,
    metrics,
    groupId: config.STATE_GROUP_ID,
    sessionTimeoutMs: config.STATE_SESSION_TIMEOUT_MS,
    guard: guardTuning(config, pool),
  });
  trackJoined(aggregator.consumer, metrics);
  await aggregator.start();

  const app = createStateApi({ pool, apiKeys: config.STATE_API_KEYS, logger });
  mountOps(app, {
    metrics,
    ready: consumerReady({ guard: aggregator, registryUrl: config.SCHEMA_REGISTRY_URL, pool }),
  });
  const server = await listen(app, config.PORT);
  logger.info({ port: config.PORT, schema: config.STATE_DB_SCHEMA }, 'aggregating; query API listening');

  onShutdownSignal(logger, async () => {
    await closeServer(server, 5000);
    await aggregator.stop();
    await producer.disconnect();
    await pool.end();
  });
}

runMain(SERVICE, main);
