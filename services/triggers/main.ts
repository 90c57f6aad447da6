/** churn-triggers: wiring only (config, rules, migrations, clients, consumer + publisher, SIGTERM). */
import { consumerReady, onShutdownSignal, runMain, trackJoined } from '../../lib/platform/lifecycle';
import { readFileSync } from 'node:fs';
import { codecFor } from '../../lib/platform/avro';
import { connectClients, guardTuning, migratedPool } from '../../lib/platform/bootstrap';
import { loadConfigOrExit } from '../../lib/platform/config';
import type { EngagementTrigger, SubscriptionEvent } from '../../lib/core/generated/avro';
import { closeServer, createMetricsRegistry, express, listen, mountOps } from '../../lib/platform/http';
import { createLogger } from '../../lib/platform/logger';
import { TriggersConfig } from './config';
import { DEFAULT_RULES, parseRules } from '../../lib/core/triggers/rules';
import { createTriggerService } from '../../lib/adapters/triggers/service';
import { TRIGGER_MIGRATIONS } from '../../lib/adapters/triggers/store';

const SERVICE = 'churn-triggers';

async function main(): Promise<void> {
  const config = loadConfigOrExit(SERVICE, TriggersConfig);
  let rules = DEFAULT_RULES;
  if (config.TRIGGERS_RULES_FILE) {
    const parsed = parseRules(readFileSync(config.TRIGGERS_RULES_FILE, 'utf8'), config.TRIGGERS_RULES_FILE);
    if (!parsed.ok) {
      process.stderr.write(`${SERVICE}: invalid rules\n${parsed.problems.map((p) => `  - ${p}\n`).join('')}`);
      process.exit(2);
    }
    rules = parsed.rules;
  }
  const logger = createLogger(SERVICE, config.LOG_LEVEL);
  const pool = await migratedPool(config.DATABASE_URL, config.TRIGGERS_DB_SCHEMA, TRIGGER_MIGRATIONS, logger);
  const { names, registry, kafka, producer } = await connectClients(SERVICE, config, logger);
  const eventCodec = codecFor<SubscriptionEvent>(registry, names, 'subscriptionEvents');
  const triggerCodec = codecFor<EngagementTrigger>(registry, names, 'engagementTriggers');
  await Promise.all([eventCodec.register(), triggerCodec.register()]);
  const metrics = createMetricsRegistry(SERVICE);
  const service = createTriggerService({
    kafka,
    pool,
    producer,
    eventCodec,
    triggerCodec,
    names,
    rules,
    logger,
    metrics,
    groupId: config.TRIGGERS_GROUP_ID,
    pollIntervalMs: config.TRIGGERS_POLL_INTERVAL_MS,
    guard: guardTuning(config, pool),
  });
  trackJoined(service.consumer, metrics);
  await service.start();
  const app = express();
  mountOps(app, {
    metrics,
    ready: consumerReady({ guard: service, registryUrl: config.SCHEMA_REGISTRY_URL, pool }),
  });
  const server = await listen(app, config.PORT);
  logger.info(
    { port: config.PORT, rulesFile: config.TRIGGERS_RULES_FILE ?? '(defaults)' },
    'deciding triggers',
  );
  onShutdownSignal(logger, async () => {
    await closeServer(server, 2000);
    await service.stop();
    await producer.disconnect();
    await pool.end();
  });
}

runMain(SERVICE, main);
