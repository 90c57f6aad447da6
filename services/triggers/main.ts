/** churn-triggers: rules, migrations, clients, the consumer and the outbox publisher (the runner does the rest). */
import { readFileSync } from 'node:fs';
import { codecFor } from '../../lib/platform/avro';
import { connectClients, guardTuning, migratedPool } from '../../lib/platform/bootstrap';
import { consumerReady, trackJoined } from '../../lib/platform/lifecycle';
import { runService } from '../../lib/platform/service';
import type { EngagementTrigger, SubscriptionEvent } from '../../lib/core/generated/avro';
import { DEFAULT_RULES, parseRules, type Rules } from '../../lib/core/triggers/rules';
import { createTriggerService } from '../../lib/adapters/triggers/service';
import { TRIGGER_MIGRATIONS } from '../../lib/adapters/triggers/store';
import { TriggersConfig } from './config';

const SERVICE = 'churn-triggers';

/** The rules file, or the defaults; an invalid file exits 2 naming every problem, like invalid config. */
function loadRules(file: string | undefined): Rules {
  if (!file) return DEFAULT_RULES;
  const parsed = parseRules(readFileSync(file, 'utf8'), file);
  if (parsed.ok) return parsed.rules;
  process.stderr.write(`${SERVICE}: invalid rules\n${parsed.problems.map((p) => `  - ${p}\n`).join('')}`);
  process.exit(2);
}

runService({
  name: SERVICE,
  config: TriggersConfig,
  async start({ config, logger, metrics }) {
    const rules = loadRules(config.TRIGGERS_RULES_FILE);
    const pool = await migratedPool(
      config.DATABASE_URL,
      config.TRIGGERS_DB_SCHEMA,
      TRIGGER_MIGRATIONS,
      logger,
    );
    const { names, registry, kafka, producer } = await connectClients(SERVICE, config, logger);
    const eventCodec = codecFor<SubscriptionEvent>(registry, names, 'subscriptionEvents');
    const triggerCodec = codecFor<EngagementTrigger>(registry, names, 'engagementTriggers');
    await Promise.all([eventCodec.register(), triggerCodec.register()]);
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
    return {
      ready: consumerReady({ guard: service, registryUrl: config.SCHEMA_REGISTRY_URL, pool }),
      port: config.PORT,
      listening: [
        { port: config.PORT, rulesFile: config.TRIGGERS_RULES_FILE ?? '(defaults)' },
        'deciding triggers',
      ],
      closeGraceMs: 2000,
      shutdown: ['server', () => service.stop(), () => producer.disconnect(), () => pool.end()],
    };
  },
});
