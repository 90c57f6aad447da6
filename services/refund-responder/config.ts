import { z } from 'zod';
import { DELIVERY_STATUSES, REFUND_PREFERENCES } from '../../lib/core/app-store/consumption';
import { bool, consumerGuardEnv, csv, httpUrl, kafkaEnv, port, postgresUrl } from '../../lib/platform/config';

const identifier = z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case identifier');

/** `EUR=1.08,GBP=1.27`: US dollars per unit of each currency, for Apple's lifetime-dollars buckets. */
const usdRates = csv.pipe(
  z
    .array(z.string().regex(/^[A-Za-z]{3}=\d+(\.\d+)?$/, 'each rate must be CODE=number, e.g. EUR=1.08'))
    .transform((pairs) =>
      Object.fromEntries(pairs.map((p) => [p.slice(0, 3).toUpperCase(), Number(p.slice(4))])),
    ),
);

/**
 * refund-responder: answers Apple's CONSUMPTION_REQUESTs. Opt-in twice over: it refuses to start without
 * REFUND_RESPONDER_ENABLED=true and the App Store Server API credentials (it sends customer data to Apple).
 */
export const RefundResponderConfig = z.object({
  PORT: port.default(8097),
  HOST: z.string().default('0.0.0.0'),
  ...kafkaEnv,
  ...consumerGuardEnv,
  DATABASE_URL: postgresUrl,
  REFUND_RESPONDER_ENABLED: bool
    .default(false)
    .refine(
      (on) => on,
      'must be true: the responder sends customer data to Apple, so it starts only when enabled',
    ),
  APPLE_ISSUER_ID: z.string().min(1),
  APPLE_KEY_ID: z.string().min(1),
  APPLE_PRIVATE_KEY_FILE: z.string().min(1),
  APPLE_BUNDLE_ID: z.string().min(1),
  APPLE_ENVIRONMENT: z.enum(['production', 'sandbox']).default('production'),
  /** Replaces https://api.storekit[-sandbox].itunes.apple.com (the local fake, tests). */
  APP_STORE_API_URL: httpUrl.optional(),
  APP_STORE_API_RATE: z.coerce.number().positive().default(5),
  REFUND_RESPONDER_DB_SCHEMA: identifier.default('storeline_refund_responder'),
  REFUND_RESPONDER_GROUP_ID: z.string().min(1).default('storeline-refund-responder'),
  /** The state aggregator's schema, read for the customer's history (tenure, amounts, trials). */
  REFUND_RESPONDER_STATE_DB_SCHEMA: identifier.default('storeline_state'),
  /** Keys for GET /refund-requests, comma-separated (at least 16 characters each). */
  REFUND_RESPONDER_API_KEYS: csv.pipe(
    z.array(z.string().min(16, 'each API key needs at least 16 characters')).min(1, 'needs at least one key'),
  ),
  /** v2: Apple's current Send Consumption Information; v1: the earlier one with history buckets. */
  REFUND_RESPONDER_API_VERSION: z.enum(['v2', 'v1']).default('v2'),
  /** The app's terms cover consent for every customer; without a hook, nothing is sent unless true. */
  REFUND_RESPONDER_ASSUME_CONSENT: bool.default(false),
  REFUND_RESPONDER_HOOK_URL: httpUrl.optional(),
  REFUND_RESPONDER_HOOK_TOKEN: z.string().min(1).optional(),
  REFUND_RESPONDER_HOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  REFUND_RESPONDER_DELIVERY_STATUS: z.enum(DELIVERY_STATUSES).default('DELIVERED'),
  /** NONE leaves refundPreference out (v2) or sends NO_PREFERENCE (v1). */
  REFUND_RESPONDER_REFUND_PREFERENCE: z.enum([...REFUND_PREFERENCES, 'NONE']).default('NONE'),
  REFUND_RESPONDER_SAMPLE_CONTENT_PROVIDED: bool.default(false),
  /** v1 platform: 0 undeclared, 1 Apple, 2 non-Apple. */
  REFUND_RESPONDER_PLATFORM: z.coerce.number().int().min(0).max(2).default(1),
  REFUND_RESPONDER_USD_RATES: usdRates.default({}),
  REFUND_RESPONDER_RETRY_BASE_MS: z.coerce.number().int().min(10).default(30_000),
  REFUND_RESPONDER_RETRY_MAX_MS: z.coerce
    .number()
    .int()
    .min(10)
    .default(15 * 60_000),
  REFUND_RESPONDER_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
});

export type RefundResponderConfig = z.output<typeof RefundResponderConfig>;
