/** state-aggregator: migrations, clients, the consumer and the query API (the runner does the rest). */
import { codecFor } from '../../lib/platform/avro';
import { connectClients, guardTuning, migratedPool } from '../../lib/platform/bootstrap';
import { consumerReady, trackJoined } from '../../lib/platform/lifecycle';
import { runService } from '../../lib/platform/service';
import type { SubscriptionEvent, SubscriptionState } from '../../lib/core/generated/avro';
import { createAggregator } from '../../lib/adapters/state/aggregator';
import { STATE_MIGRATIONS } from '../../lib/adapters/state/migrations';
import { createStateApi } from './app';
import { StateAggregatorConfig } from './config';

const SERVICE = 'state-aggregator';

runService({
  name: SERVICE,
  config: StateAggregatorConfig,
  async start({ config, logger, metrics }) {
    const pool = await migratedPool(config.DATABASE_URL, config.STATE_DB_SCHEMA, STATE_MIGRATIONS, logger);
    const { names, registry, kafka, producer } = await connectClients(SERVICE, config, logger);
    const eventCodec = codecFor<SubscriptionEvent>(registry, names, 'subscriptionEvents');
    const stateCodec = codecFor<SubscriptionState>(registry, names, 'subscriptionState');
    await Promise.all([eventCodec.register(), stateCodec.register()]);
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
    return {
      app: createStateApi({ pool, apiKeys: config.STATE_API_KEYS, logger }),
      ready: consumerReady({ guard: aggregator, registryUrl: config.SCHEMA_REGISTRY_URL, pool }),
      port: config.PORT,
      listening: [{ port: config.PORT, schema: config.STATE_DB_SCHEMA }, 'aggregating; query API listening'],
      closeGraceMs: 5000,
      shutdown: ['server', () => aggregator.stop(), () => producer.disconnect(), () => pool.end()],
    };
  },
});
