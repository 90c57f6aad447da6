import { z } from 'zod';
import { consumerGuardEnv, kafkaEnv, port, postgresUrl } from '../../lib/platform/config';

export const TriggersConfig = z.object({
  ...kafkaEnv,
  ...consumerGuardEnv,
  DATABASE_URL: postgresUrl,
  TRIGGERS_DB_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case identifier')
    .default('storeline_triggers'),
  TRIGGERS_GROUP_ID: z.string().min(1).default('storeline-churn-triggers'),
  /** JSON rules file (services/triggers/rules.example.json); defaults apply when unset. */
  TRIGGERS_RULES_FILE: z.string().min(1).optional(),
  TRIGGERS_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
  PORT: port.default(8092),
});
