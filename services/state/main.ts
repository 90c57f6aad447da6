/** state-aggregator: migrations, clients, the consumer and the query API (the runner does the rest). */
import { connectConsumer, guardTuning, startConsumer } from '../../lib/platform/bootstrap';
import { runService } from '../../lib/platform/service';
import type { SubscriptionState } from '../../lib/core/generated/avro';
import { createAggregator } from '../../lib/adapters/state/aggregator';
import { STATE_MIGRATIONS } from '../../lib/adapters/state/migrations';
import { createStateApi } from './app';
import { StateAggregatorConfig } from './config';

const SERVICE = 'state-aggregator';

runService({
  name: SERVICE,
  config: StateAggregatorConfig,
  async start({ config, logger, metrics }) {
    const db = { schema: config.STATE_DB_SCHEMA, migrations: STATE_MIGRATIONS };
    const clients = await connectConsumer<SubscriptionState>(
      SERVICE,
      config,
      logger,
      db,
      'subscriptionState',
    );
    const { pool } = clients;
    const aggregator = createAggregator({
      ...clients,
      stateCodec: clients.outputCodec,
      logger,
      metrics,
      groupId: config.STATE_GROUP_ID,
      sessionTimeoutMs: config.STATE_SESSION_TIMEOUT_MS,
      guard: guardTuning(config, pool),
    });
    return {
      ...(await startConsumer(aggregator, clients, config, metrics)),
      app: createStateApi({ pool, apiKeys: config.STATE_API_KEYS, logger }),
      port: config.PORT,
      listening: [{ port: config.PORT, schema: config.STATE_DB_SCHEMA }, 'aggregating; query API listening'],
      closeGraceMs: 5000,
    };
  },
});
