/** churn-triggers: rules, migrations, clients, the consumer and the outbox publisher (the runner does the rest). */
import { connectConsumer, guardTuning, startConsumer } from '../../lib/platform/bootstrap';
import { loadFileOrExit } from '../../lib/platform/config';
import { runService } from '../../lib/platform/service';
import type { EngagementTrigger } from '../../lib/core/generated/avro';
import { DEFAULT_RULES, parseRules, type Rules } from '../../lib/core/triggers/rules';
import { createTriggerService } from '../../lib/adapters/triggers/service';
import { TRIGGER_MIGRATIONS } from '../../lib/adapters/triggers/store';
import { TriggersConfig } from './config';

const SERVICE = 'churn-triggers';

/** The rules file, or the defaults; an invalid file exits 2 naming every problem, like invalid config. */
function loadRules(file: string | undefined): Rules {
  if (!file) return DEFAULT_RULES;
  return loadFileOrExit(SERVICE, file, (text) => {
    const parsed = parseRules(text, file);
    return parsed.ok ? { ok: true, value: parsed.rules } : parsed;
  });
}

runService({
  name: SERVICE,
  config: TriggersConfig,
  async start({ config, logger, metrics }) {
    const rules = loadRules(config.TRIGGERS_RULES_FILE);
    const db = { schema: config.TRIGGERS_DB_SCHEMA, migrations: TRIGGER_MIGRATIONS };
    const clients = await connectConsumer<EngagementTrigger>(
      SERVICE,
      config,
      logger,
      db,
      'engagementTriggers',
    );
    const service = createTriggerService({
      ...clients,
      triggerCodec: clients.outputCodec,
      rules,
      logger,
      metrics,
      groupId: config.TRIGGERS_GROUP_ID,
      pollIntervalMs: config.TRIGGERS_POLL_INTERVAL_MS,
      guard: guardTuning(config, clients.pool),
    });
    return {
      ...(await startConsumer(service, clients, config, metrics)),
      port: config.PORT,
      listening: [
        { port: config.PORT, rulesFile: config.TRIGGERS_RULES_FILE ?? '(defaults)' },
        'deciding triggers',
      ],
      closeGraceMs: 2000,
    };
  },
});
