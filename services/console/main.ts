/** console: the operators' web UI over the other services' tables and topics (the runner does the rest). */
import { createKafka } from '../../lib/platform/kafka';
import { runService } from '../../lib/platform/service';
import { ConsoleConfig } from './config';
import { buildConsole } from './console';

const SERVICE = 'console';

runService({
  name: SERVICE,
  config: ConsoleConfig,
  async start({ config, logger, metrics }) {
    const kafka = createKafka({
      brokers: config.KAFKA_BROKERS,
      clientId: config.KAFKA_CLIENT_ID ?? SERVICE,
      logger,
    });
    const built = await buildConsole({
      kafka,
      registryUrl: config.SCHEMA_REGISTRY_URL,
      topicPrefix: config.TOPIC_PREFIX,
      databaseUrl: config.DATABASE_URL,
      schemas: {
        state: config.STATE_DB_SCHEMA,
        triggers: config.TRIGGERS_DB_SCHEMA,
        webhooks: config.WEBHOOK_DB_SCHEMA,
        play: config.NORMALIZER_DB_SCHEMA,
      },
      operators: config.CONSOLE_OPERATORS,
      sessionTtlMs: config.CONSOLE_SESSION_TTL_MS,
      secureCookies: config.CONSOLE_SECURE_COOKIES,
      lagGroups: config.CONSOLE_LAG_GROUPS,
      groupPrefix: config.CONSOLE_GROUP_PREFIX,
      dlqRefreshMs: config.CONSOLE_DLQ_REFRESH_MS,
      allowedCidrs: config.WEBHOOK_ALLOWED_CIDRS,
      logger,
      metrics,
    });
    const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${config.PORT}/`;
    return {
      app: built.app,
      ready: built.ready,
      port: config.PORT,
      host: config.HOST,
      // Operators' names and roles only: their keys are never logged.
      listening: [
        { url, operators: config.CONSOLE_OPERATORS.map((o) => `${o.name} (${o.role})`) },
        `console at ${url}`,
      ],
      shutdown: ['server', () => built.close()],
      closeGraceMs: 2000,
    };
  },
});
