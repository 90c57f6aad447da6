import { z } from 'zod';
import {
  csv,
  httpUrl,
  kafkaBrokers,
  logLevel,
  port,
  topicPrefix,
  publisherEnv,
} from '../../lib/platform/config';

export const ReceiverPlayStoreConfig = z
  .object({
    PORT: port.default(8082),
    HOST: z.string().default('0.0.0.0'),
    KAFKA_BROKERS: kafkaBrokers,
    TOPIC_PREFIX: topicPrefix,
    LOG_LEVEL: logLevel,
    /** Android package names served, comma-separated. */
    PLAY_PACKAGE_NAMES: csv.pipe(z.array(z.string().min(1)).min(1, 'needs at least one package name')),
    PUBSUB_AUTH: z.enum(['oidc', 'token']).default('oidc'),
    PUBSUB_AUDIENCE: z.string().min(1).optional(),
    PUBSUB_SERVICE_ACCOUNT_EMAIL: z.email().optional(),
    PUBSUB_JWKS_URL: httpUrl.default('https://www.googleapis.com/oauth2/v3/certs'),
    PUBSUB_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    BODY_LIMIT_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(64 * 1024),
    ...publisherEnv,
  })
  .superRefine((c, ctx) => {
    if (c.PUBSUB_AUTH === 'oidc') {
      if (!c.PUBSUB_AUDIENCE)
        ctx.addIssue({
          code: 'custom',
          path: ['PUBSUB_AUDIENCE'],
          message: 'is required when PUBSUB_AUTH=oidc',
        });
      if (!c.PUBSUB_SERVICE_ACCOUNT_EMAIL)
        ctx.addIssue({
          code: 'custom',
          path: ['PUBSUB_SERVICE_ACCOUNT_EMAIL'],
          message: 'is required when PUBSUB_AUTH=oidc',
        });
    } else if (!c.PUBSUB_TOKEN) {
      ctx.addIssue({ code: 'custom', path: ['PUBSUB_TOKEN'], message: 'is required when PUBSUB_AUTH=token' });
    }
  });
export type ReceiverPlayStoreConfig = z.output<typeof ReceiverPlayStoreConfig>;
