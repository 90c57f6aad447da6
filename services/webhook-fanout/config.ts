import { z } from 'zod';
import { bool, consumerGuardEnv, csv, kafkaEnv, port, postgresUrl } from '../../lib/platform/config';
import { parseDurations } from '../../lib/core/webhooks/policy';
import { allowedCidrsEnv } from '../../lib/adapters/webhooks/ssrf';

const duration = z.string().transform((s, ctx) => {
  const d = parseDurations(s);
  if (typeof d === 'string') {
    ctx.addIssue({ code: 'custom', message: d });
    return z.NEVER;
  }
  return d;
});
const oneDuration = duration
  .pipe(z.array(z.number()).length(1, 'must be one duration'))
  .transform((d) => d[0]!);

export const WebhookFanoutConfig = z.object({
  ...kafkaEnv,
  ...consumerGuardEnv,
  DATABASE_URL: postgresUrl,
  WEBHOOK_DB_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case identifier')
    .default('storeline_webhooks'),
  WEBHOOK_GROUP_ID: z.string().min(1).default('storeline-webhook-fanout'),
  /** Also deliver engagement triggers (types trigger.*). */
  WEBHOOK_INCLUDE_TRIGGERS: bool.default(false),
  /** Admin API keys, comma-separated (at least 16 characters each). */
  WEBHOOK_API_KEYS: csv.pipe(
    z.array(z.string().min(16, 'each API key needs at least 16 characters')).min(1, 'needs at least one key'),
  ),
  /** JSON file of endpoints to create or update at start (services/webhook-fanout/endpoints.example.json). */
  WEBHOOK_ENDPOINTS_FILE: z.string().min(1).optional(),
  /**
   * Delays before each retry. Default after Standard Webhooks' example: 5s, 5m, 30m, 2h, 5h, 10h, 14h, 20h,
   * 24h (10 attempts over about 3 days).
   */
  WEBHOOK_RETRY_SCHEDULE: duration
    .pipe(z.array(z.number()).min(1, 'needs at least one delay'))
    .default(parseDurations('5s,5m,30m,2h,5h,10h,14h,20h,24h') as number[]),
  WEBHOOK_RETRY_JITTER: z.coerce.number().min(0).max(0.5).default(0.2),
  /** An endpoint failing without a single success for this long is disabled. */
  WEBHOOK_DISABLE_AFTER: oneDuration.default(5 * 86_400_000),
  WEBHOOK_DEFAULT_TIMEOUT: oneDuration.pipe(z.number().min(100).max(60_000)).default(15_000),
  /** Each endpoint's ceiling for its adaptive concurrency limit (lib/core/webhooks/concurrency.ts). */
  WEBHOOK_DEFAULT_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(64),
  /** Attempts in flight per instance, all endpoints together. */
  WEBHOOK_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(10_000).default(500),
  /** A claimed delivery is retried by any instance this long after its timeout if no result was recorded. */
  WEBHOOK_LEASE_MARGIN: oneDuration.default(30_000),
  WEBHOOK_POLL_INTERVAL: oneDuration.pipe(z.number().min(10).max(60_000)).default(250),
  /** CIDRs the SSRF guard lets through although private or loopback (e.g. 127.0.0.1/32 for local use). */
  WEBHOOK_ALLOWED_CIDRS: allowedCidrsEnv,
  PORT: port.default(8093),
});
export type WebhookFanoutConfig = z.output<typeof WebhookFanoutConfig>;
