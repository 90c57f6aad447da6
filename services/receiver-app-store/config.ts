import { z } from 'zod';
import {
  bool,
  csv,
  kafkaBrokers,
  logLevel,
  port,
  topicPrefix,
  publisherEnv,
} from '../../lib/platform/config';

const environments = csv.pipe(
  z
    .array(z.enum(['Production', 'Sandbox', 'Xcode', 'LocalTesting']))
    .min(1, 'needs at least one environment'),
);

/** receiver-app-store configuration: parsed once at start (see main.ts). */
export const ReceiverAppStoreConfig = z
  .object({
    PORT: port.default(8080),
    HOST: z.string().default('0.0.0.0'),
    KAFKA_BROKERS: kafkaBrokers,
    TOPIC_PREFIX: topicPrefix,
    LOG_LEVEL: logLevel,
    /** Allowed bundle ids, comma-separated (several apps per deployment). */
    APPLE_BUNDLE_IDS: csv.pipe(z.array(z.string().min(1)).min(1, 'needs at least one bundle id')),
    /** appAppleIds accepted for Production notifications (required when Production is accepted). */
    APPLE_APP_APPLE_IDS: csv
      .pipe(z.array(z.string().regex(/^\d+$/, 'must be numeric ids').transform(Number)))
      .default([]),
    APPLE_ENVIRONMENTS: environments.default(['Production']),
    /** Extra trusted roots (DER or PEM files), comma-separated; Apple Root CA - G3 is always included. */
    APPLE_ROOT_CERTS: csv.default([]),
    /** Leave Apple Root CA - G3 out (test deployments with their own CA only). */
    APPLE_ROOT_DEFAULT: bool.default(true),
    /** `now` in production; `signed-date` replays recorded notifications. */
    APPLE_VERIFY_AT: z.enum(['now', 'signed-date']).default('now'),
    /** Enables POST /app-store/v1 (legacy) when set. */
    APPLE_V1_SHARED_SECRET: z.string().min(8, 'must be at least 8 characters').optional(),
    BODY_LIMIT_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(256 * 1024),
    ...publisherEnv,
  })
  .superRefine((c, ctx) => {
    if (c.APPLE_ENVIRONMENTS.includes('Production') && c.APPLE_APP_APPLE_IDS.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['APPLE_APP_APPLE_IDS'],
        message:
          'is required when APPLE_ENVIRONMENTS accepts Production (Apple requires the appAppleId check there)',
      });
    }
    if (!c.APPLE_ROOT_DEFAULT && c.APPLE_ROOT_CERTS.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['APPLE_ROOT_CERTS'],
        message: 'is required when APPLE_ROOT_DEFAULT=false',
      });
    }
  });

export type ReceiverAppStoreConfig = z.output<typeof ReceiverAppStoreConfig>;
