/** webhook-fanout: migrations, seed endpoints, clients, consumer + dispatcher, admin API (the runner does the rest). */
import { readFileSync } from 'node:fs';
import { codecFor } from '../../lib/platform/avro';
import { connectClients, guardTuning, migratedPool } from '../../lib/platform/bootstrap';
import { express } from '../../lib/platform/http';
import { consumerReady, trackJoined } from '../../lib/platform/lifecycle';
import { runService } from '../../lib/platform/service';
import type { EngagementTrigger, SubscriptionEvent } from '../../lib/core/generated/avro';
import { EndpointManager, SeedFile, applySeed } from '../../lib/adapters/webhooks/endpoints';
import { WebhookSender } from '../../lib/adapters/webhooks/sender';
import { createFanoutService } from '../../lib/adapters/webhooks/service';
import { SsrfGuard } from '../../lib/adapters/webhooks/ssrf';
import { WEBHOOK_MIGRATIONS } from '../../lib/adapters/webhooks/store/migrations';
import { createWebhookApi } from './app';
import { WebhookFanoutConfig } from './config';

const SERVICE = 'webhook-fanout';

/** The seed file, if any; an invalid one exits 2 naming every problem, like invalid config. */
function loadSeed(file: string | undefined): SeedFile | undefined {
  if (!file) return undefined;
  const parsed = SeedFile.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (parsed.success) return parsed.data;
  process.stderr.write(
    `${SERVICE}: invalid ${file}\n${parsed.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}\n`).join('')}`,
  );
  process.exit(2);
}

runService({
  name: SERVICE,
  config: WebhookFanoutConfig,
  async start({ config, logger, metrics }) {
    const seed = loadSeed(config.WEBHOOK_ENDPOINTS_FILE);
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
    app.use(
      createWebhookApi({ pool, manager, apiKeys: config.WEBHOOK_API_KEYS, logger, onDue: service.wake }),
    );
    return {
      app,
      ready: consumerReady({ guard: service, registryUrl: config.SCHEMA_REGISTRY_URL, pool }),
      port: config.PORT,
      listening: [
        {
          port: config.PORT,
          triggers: config.WEBHOOK_INCLUDE_TRIGGERS,
          allowedCidrs: config.WEBHOOK_ALLOWED_CIDRS,
        },
        'delivering webhooks',
      ],
      closeGraceMs: 2000,
      shutdown: [
        'server',
        () => service.stop(),
        () => sender.close(),
        () => producer.disconnect(),
        () => pool.end(),
      ],
    };
  },
});
