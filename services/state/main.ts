/** state-aggregator: wiring only (config, migrations, clients, consumer + query API, SIGTERM). */
import { consumerReady, onShutdownSignal, runMain, trackJoined } from '../shared/lifecycle';
import { codecFor } from '../shared/avro';
import { connectClients, guardTuning, migratedPool } from '../shared/bootstrap';
import { loadConfigOrExit } from '../shared/config';
import type { SubscriptionEvent, SubscriptionState } from '../shared/generated/avro';
import { closeServer, createMetricsRegistry, listen, mountOps } from '../shared/http';
import { createLogger } from '../shared/logger';
import { createAggregator } from './aggregator';
import { createStateApi } from './api';
import { StateAggregatorConfig } from './config';
import { STATE_MIGRATIONS } from './migrations';

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
