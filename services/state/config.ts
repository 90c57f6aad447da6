import { z } from 'zod';
import { consumerGuardEnv, csv, kafkaEnv, port, postgresUrl } from '../../lib/platform/config';

export const StateAggregatorConfig = z.object({
  ...kafkaEnv,
  ...consumerGuardEnv,
  DATABASE_URL: postgresUrl,
  /** PostgreSQL schema holding this service's tables. */
  STATE_DB_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case identifier')
    .default('storeline_state'),
  STATE_GROUP_ID: z.string().min(1).default('storeline-state-aggregator'),
  /** API keys for the query API, comma-separated (at least 16 characters each). */
  STATE_API_KEYS: csv.pipe(
    z.array(z.string().min(16, 'each API key needs at least 16 characters')).min(1, 'needs at least one key'),
  ),
  PORT: port.default(8091),
  STATE_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).default(30_000),
});
export type StateAggregatorConfig = z.output<typeof StateAggregatorConfig>;
