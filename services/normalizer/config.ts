import { z } from 'zod';
import { kafkaEnv, port } from '../shared/config';

export const NormalizerConfig = z.object({
  ...kafkaEnv,
  PORT: port.default(8090),
  NORMALIZER_GROUP_ID: z.string().min(1).default('storeline-normalizer'),
  /** Base of the per-partition transactional ids; must be the same for every instance of one deployment. */
  NORMALIZER_TRANSACTIONAL_ID: z.string().min(1).default('storeline-normalizer'),
  NORMALIZER_MAX_RECORDS_PER_TXN: z.coerce.number().int().min(1).max(10_000).default(500),
  /** Consumer session timeout: how long a dead instance holds its partitions before a rebalance. */
  NORMALIZER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).max(300_000).default(30_000),
});
export type NormalizerConfig = z.output<typeof NormalizerConfig>;
