/** webhook-fanout: migrations, seed endpoints, clients, consumer + dispatcher, admin API (the runner does the rest). */
import { connectConsumer, guardTuning, startConsumer } from '../../lib/platform/bootstrap';
import { express } from '../../lib/platform/http';
import { loadFileOrExit } from '../../lib/platform/config';
import { runService } from '../../lib/platform/service';
import type { EngagementTrigger } from '../../lib/core/generated/avro';
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
  return loadFileOrExit(SERVICE, file, (text) => {
    const parsed = SeedFile.safeParse(JSON.parse(text));
    if (parsed.success) return { ok: true, value: parsed.data };
    return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) };
  });
}

runService({
  name: SERVICE,
  config: WebhookFanoutConfig,
  async start({ config, logger, metrics }) {
    const seed = loadSeed(config.WEBHOOK_ENDPOINTS_FILE);
    const db = { schema: config.WEBHOOK_DB_SCHEMA, migrations: WEBHOOK_MIGRATIONS, poolSize: 10 };
    const output = config.WEBHOOK_INCLUDE_TRIGGERS ? 'engagementTriggers' : undefined;
    const clients = await connectConsumer<EngagementTrigger>(SERVICE, config, logger, db, output);
    const { pool } = clients;
    const guard = new SsrfGuard(config.WEBHOOK_ALLOWED_CIDRS);
    const manager = new EndpointManager(pool, guard, {
      maxConcurrency: config.WEBHOOK_DEFAULT_CONCURRENCY,
      timeoutMs: config.WEBHOOK_DEFAULT_TIMEOUT,
    });
    if (seed) {
      const applied = await applySeed(manager, pool, seed, process.env);
      logger.info(applied, 'seed endpoints applied');
    }
    const sender = new WebhookSender(guard, 'Storeline-Webhooks/1.0');
    const service = createFanoutService({
      ...clients,
      triggerCodec: clients.outputCodec,
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
    const started = await startConsumer(service, clients, config, metrics, [() => sender.close()]);
    const app = express();
    app.use(
      createWebhookApi({ pool, manager, apiKeys: config.WEBHOOK_API_KEYS, logger, onDue: service.wake }),
    );
    return {
      ...started,
      app,
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
    };
  },
});
