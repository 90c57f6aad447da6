import { z } from 'zod';
import { bool, csv, httpUrl, kafkaEnv, port, publisherEnv } from '../../lib/platform/config';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const APP_STORE_VARS = [
  'APPLE_ISSUER_ID',
  'APPLE_KEY_ID',
  'APPLE_PRIVATE_KEY_FILE',
  'APPLE_BUNDLE_ID',
] as const;

/** backfill: the scheduled `storeline backfill app-store|play-store`, off unless a store is enabled. */
export const BackfillConfig = z
  .object({
    PORT: port.default(8095),
    HOST: z.string().default('0.0.0.0'),
    ...kafkaEnv,
    ...publisherEnv,
    BACKFILL_APP_STORE: bool.default(false),
    BACKFILL_PLAY_STORE: bool.default(false),
    /** Time between the starts of two runs (a run still going when the next is due delays it). */
    BACKFILL_INTERVAL_MS: z.coerce
      .number()
      .int()
      .min(100)
      .default(6 * HOUR),
    /** How far back each run reads: longer than Apple's ~3-day retry schedule, within Google's 30 days. */
    BACKFILL_WINDOW_MS: z.coerce
      .number()
      .int()
      .min(60_000)
      .max(30 * DAY, 'must be at most 30 days (what Google and the App Store sandbox keep)')
      .default(4 * DAY),
    APPLE_ISSUER_ID: z.string().min(1).optional(),
    APPLE_KEY_ID: z.string().min(1).optional(),
    APPLE_PRIVATE_KEY_FILE: z.string().min(1).optional(),
    APPLE_BUNDLE_ID: z.string().min(1).optional(),
    APPLE_ENVIRONMENT: z.enum(['production', 'sandbox']).default('production'),
    /** Extra trusted roots for signedPayloads (DER or PEM files), comma-separated; Apple Root CA - G3 is always in. */
    APPLE_ROOT_CERTS: csv.default([]),
    /** Replaces https://api.storekit[-sandbox].itunes.apple.com (the local fake, tests). */
    APP_STORE_API_URL: httpUrl.optional(),
    /** Requests per second to Apple. */
    APP_STORE_API_RATE: z.coerce.number().positive().default(5),
    PLAY_PACKAGE_NAMES: csv.default([]),
    /** Replaces https://androidpublisher.googleapis.com (the local fake, tests). */
    PLAY_API_ROOT_URL: httpUrl.optional(),
    PLAY_API_TOKEN: z.string().min(1).optional(),
    PLAY_SERVICE_ACCOUNT_KEY_FILE: z.string().min(1).optional(),
    /** Pause between Play page requests (Google allows 30 per 30 s). */
    PLAY_MIN_INTERVAL_MS: z.coerce.number().int().min(0).default(1000),
  })
  .superRefine((c, ctx) => {
    if (c.BACKFILL_APP_STORE) {
      for (const name of APP_STORE_VARS) {
        if (!c[name])
          ctx.addIssue({ code: 'custom', path: [name], message: 'is required when BACKFILL_APP_STORE=true' });
      }
    }
    if (c.BACKFILL_PLAY_STORE) {
      if (c.PLAY_PACKAGE_NAMES.length === 0)
        ctx.addIssue({
          code: 'custom',
          path: ['PLAY_PACKAGE_NAMES'],
          message: 'is required when BACKFILL_PLAY_STORE=true',
        });
      if (!c.PLAY_API_TOKEN && !c.PLAY_SERVICE_ACCOUNT_KEY_FILE)
        ctx.addIssue({
          code: 'custom',
          path: ['PLAY_SERVICE_ACCOUNT_KEY_FILE'],
          message: 'is required when BACKFILL_PLAY_STORE=true (or PLAY_API_TOKEN)',
        });
    }
  });

export type BackfillConfig = z.output<typeof BackfillConfig>;
