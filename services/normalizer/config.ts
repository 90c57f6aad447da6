import { z } from 'zod';
import { DEFAULT_CONCURRENT_PARTITIONS } from '../../lib/platform/transactional';
import { bool, consumerGuardEnv, httpUrl, kafkaEnv, port, postgresUrl } from '../../lib/platform/config';

export const NormalizerConfig = z.object({
  ...kafkaEnv,
  ...consumerGuardEnv,
  PORT: port.default(8090),
  NORMALIZER_GROUP_ID: z.string().min(1).default('storeline-normalizer'),
  /** Base of the per-partition transactional ids; must be the same for every instance of one deployment. */
  NORMALIZER_TRANSACTIONAL_ID: z.string().min(1).default('storeline-normalizer'),
  NORMALIZER_MAX_RECORDS_PER_TXN: z.coerce.number().int().min(1).max(10_000).default(500),
  /** Raw partitions this instance transforms at once, each in its own transactions (1: one at a time). */
  NORMALIZER_CONCURRENT_PARTITIONS: z.coerce
    .number()
    .int()
    .min(1)
    .max(64)
    .default(DEFAULT_CONCURRENT_PARTITIONS),
  /** Consumer session timeout: how long a dead instance holds its partitions before a rebalance. */
  NORMALIZER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).max(300_000).default(30_000),
  /** App Store notification claims (dedupe by notification id) and the Play Store snapshots. */
  DATABASE_URL: postgresUrl,
  NORMALIZER_DB_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case identifier')
    .default('storeline_play'),
  /** Replaces https://androidpublisher.googleapis.com (the documented paths are kept). */
  PLAY_API_ROOT_URL: httpUrl.default('https://androidpublisher.googleapis.com'),
  /** A static bearer token (local use, the fake Play API). */
  PLAY_API_TOKEN: z.string().min(1).optional(),
  /** Service-account JSON key file for the real API (OAuth 2.0 JWT bearer). */
  PLAY_SERVICE_ACCOUNT_KEY_FILE: z.string().min(1).optional(),
  /** Acknowledge new purchases still pending acknowledgement (Google refunds them after 3 days). */
  PLAY_ACKNOWLEDGE: bool.default(true),
});
export type NormalizerConfig = z.output<typeof NormalizerConfig>;
