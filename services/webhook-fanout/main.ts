/** webhook-fanout: wiring only (config, migrations, seed endpoints, clients, consumer + dispatcher, admin API, SIGTERM). */
import { readFileSync } from 'node:fs';
import { codecFor } from '../../lib/platform/avro';
import { connectClients, guardTuning, migratedPool } from '../../lib/platform/bootstrap';
import { loadConfigOrExit } from '../../lib/platform/config';
import type { EngagementTrigger, SubscriptionEvent } from '../../lib/core/generated/avro';
import { closeServer, createMetricsRegistry, express, listen, mountOps } from '../../lib/platform/http';
import { consumerReady, onShutdownSignal, runMain, trackJoined } from '../../lib/platform/lifecycle';
import { createLogger } from '../../lib/platform/logger';
import { createWebhookApi } from './app';
import { WebhookFanoutConfig } from './config';
import { EndpointManager, SeedFile, applySeed } from '../../lib/adapters/webhooks/endpoints';
import { WebhookSender } from '../../lib/adapters/webhooks/sender';
import { createFanoutService } from '../../lib/adapters/webhooks/service';
import { SsrfGuard } from '../../lib/adapters/webhooks/ssrf';
import { WEBHOOK_MIGRATIONS } from '../../lib/adapters/webhooks/store/migrations';

const SERVICE = 'webhook-fanout';

async function main(): Promise<void> {
  const config = loadConfigOrExit(SERVICE, WebhookFanoutConfig);
  let seed: SeedFile | undefined;
  if (config.WEBHOOK_ENDPOINTS_FILE) {
    const parsed = SeedFile.safeParse(JSON.parse(readFileSync(config.WEBHOOK_ENDPOINTS_FILE, 'utf8')));
    if (!parsed.success) {
      process.stderr.write(
        `${SERVICE}: invalid ${config.WEBHOOK_ENDPOINTS_FILE}\n${parsed.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}\n`).join('')}`,
      );
      process.exit(2);
    }
    seed = parsed.data;
  }
  const logger = createLogger(SERVICE, config.LOG_LEVEL);
  const pool = await migratedPool(
    config.DATABASE_URL,
    config.WEBHOOK_DB_SCHEMA,
    WEBHOOK_MIGRATIONS,
    logger,
    10,
  );
  const guard = new SsrfGuard(config.WEBHOOK_ALLOWED_CIDRS);
  const manager = new EndpointManager(pool, guard, {
    maxConcurrency: config.WEBHOOK_DEFAULT_CONCURRENCY,
    timeoutMs: config.WEBHOOK_DEFAULT_TIMEOUT,
  });
  if (seed) {
    const applied = await applySeed(manager, pool, seed, process.env);
    logger.info(applied, 'seed endpoints applied');
  }
  const { names, registry, kafka, producer } = await connectClients(SERVICE, config, logger);
  const eventCodec = codecFor<SubscriptionEvent>(registry, names, 'subscriptionEvents');
  const triggerCodec = config.WEBHOOK_INCLUDE_TRIGGERS
    ? codecFor<EngagementTrigger>(registry, names, 'engagementTriggers')
    : undefined;
  await Promise.all([eventCodec.register(), triggerCodec?.register()]);
  const metrics = createMetricsRegistry(SERVICE);
  const sender = new WebhookSender(guard, 'Storeline-Webhooks/1.0');
  const service = createFanoutService({
    kafka,
    pool,
    producer,
    eventCodec,
    triggerCodec,
    names,
    sender,
    groupId: config.WEBHOOK_GROUP_ID,
    logger,
    metrics,
    policy: {
      scheduleMs: config.WEBHOOK_RETRY_SCHEDULE,
      jitter: config.WEBHOOK_RETRY_JITTER,
      maxRetryAfterMs: 86_400_000,
    },
    disableAfterMs: config.WEBHOOK_DISABLE_AFTER,
    maxInFlight: config.WEBHOOK_MAX_IN_FLIGHT,
    leaseMarginMs: config.WEBHOOK_LEASE_MARGIN,
    pollIntervalMs: config.WEBHOOK_POLL_INTERVAL,
    guard: guardTuning(config, pool),
  });
  trackJoined(service.consumer, metrics);
  await service.start();
  const app = express();
  mountOps(app, {
    metrics,
    ready: consumerReady({ guard: service, registryUrl: config.SCHEMA_REGISTRY_URL, pool }),
  });
  app.use(createWebhookApi({ pool, manager, apiKeys: config.WEBHOOK_API_KEYS, logger, onDue: service.wake }));
  const server = await listen(app, config.PORT);
  logger.info(
    {
      port: config.PORT,
      triggers: config.WEBHOOK_INCLUDE_TRIGGERS,
      allowedCidrs: config.WEBHOOK_ALLOWED_CIDRS,
    },
    'delivering webhooks',
  );
  onShutdownSignal(logger, async () => {
    await closeServer(server, 2000);
    await service.stop();
    sender.close();
    await producer.disconnect();
    await pool.end();
  });
}

runMain(SERVICE, main);
