/**
 * refund-responder's start and its read API:
 *   GET /refund-requests?since=<epoch ms | ISO 8601>&limit=  the requests Apple made since then (by
 *       signedDate), oldest first, each with its status, the body sent, the context it was built from and
 *       every attempt.
 * Auth: `Authorization: Bearer <key>` or `x-api-key: <key>`, keys from REFUND_RESPONDER_API_KEYS.
 */
import { readFileSync } from 'node:fs';
import express, { type Express } from 'express';
import type { Pool } from 'pg';
import { z } from 'zod';
import { APP_STORE_API_URLS } from '../../lib/core/app-store/serverApi';
import type { ResponderPolicy } from '../../lib/core/app-store/consumption';
import { AppStoreServerApi, loadApiPrivateKey } from '../../lib/adapters/app-store/serverApi';
import { createRefundResponder } from '../../lib/adapters/refund-responder/service';
import { listRequests, REFUND_RESPONDER_MIGRATIONS } from '../../lib/adapters/refund-responder/store';
import { connectConsumer, guardTuning, startConsumer } from '../../lib/platform/bootstrap';
import { apiErrorHandler, apiKeyAuth, badRequest } from '../../lib/platform/http';
import type { Logger } from '../../lib/platform/logger';
import type { ServiceSpec, Started } from '../../lib/platform/service';
import type { RefundResponderConfig } from './config';

const SERVICE = 'refund-responder';

const Since = z.union([
  z.coerce.number().int().min(0),
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
]);
const ListQuery = z.object({
  since: Since.default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function createRefundApi(deps: { pool: Pool; apiKeys: string[]; logger: Logger }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/refund-requests', apiKeyAuth(deps.apiKeys), async (req, res) => {
    const q = ListQuery.safeParse(req.query);
    if (!q.success) return badRequest(res, q.error);
    res.json({ items: await listRequests(deps.pool, q.data.since, q.data.limit) });
  });
  app.use(apiErrorHandler(deps.logger, 'refund requests'));
  return app;
}

/** The responder's choices from config (the pure builder's input). */
function policyOf(config: RefundResponderConfig): ResponderPolicy {
  const pref = config.REFUND_RESPONDER_REFUND_PREFERENCE;
  return {
    version: config.REFUND_RESPONDER_API_VERSION,
    assumeConsent: config.REFUND_RESPONDER_ASSUME_CONSENT,
    deliveryStatus: config.REFUND_RESPONDER_DELIVERY_STATUS,
    refundPreference: pref === 'NONE' ? undefined : pref,
    sampleContentProvided: config.REFUND_RESPONDER_SAMPLE_CONTENT_PROVIDED,
    platform: config.REFUND_RESPONDER_PLATFORM,
  };
}

/** One attempt per call: the responder schedules retries itself, durably, until Apple's deadline. */
async function appleSender(config: RefundResponderConfig, logger: Logger) {
  const privateKey = await loadApiPrivateKey(readFileSync(config.APPLE_PRIVATE_KEY_FILE, 'utf8'));
  const api = new AppStoreServerApi({
    baseUrl: config.APP_STORE_API_URL ?? APP_STORE_API_URLS[config.APPLE_ENVIRONMENT],
    key: {
      issuerId: config.APPLE_ISSUER_ID,
      keyId: config.APPLE_KEY_ID,
      bundleId: config.APPLE_BUNDLE_ID,
      privateKey,
    },
    ratePerSecond: config.APP_STORE_API_RATE,
    retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
    onRetry: (n) => logger.warn(n, 'App Store Server API retry'),
  });
  return (path: string, body: object) => api.sendConsumptionInformation(path, body);
}

type StartContext = Parameters<ServiceSpec<typeof RefundResponderConfig>['start']>[0];

export async function startRefundResponder({ config, logger, metrics }: StartContext): Promise<Started> {
  const send = await appleSender(config, logger);
  const db = { schema: config.REFUND_RESPONDER_DB_SCHEMA, migrations: REFUND_RESPONDER_MIGRATIONS };
  const clients = await connectConsumer(SERVICE, config, logger, db);
  const responder = createRefundResponder({
    ...clients,
    groupId: config.REFUND_RESPONDER_GROUP_ID,
    logger,
    metrics,
    environment: config.APPLE_ENVIRONMENT === 'production' ? 'PRODUCTION' : 'SANDBOX',
    send,
    hook: config.REFUND_RESPONDER_HOOK_URL
      ? {
          url: config.REFUND_RESPONDER_HOOK_URL,
          token: config.REFUND_RESPONDER_HOOK_TOKEN,
          timeoutMs: config.REFUND_RESPONDER_HOOK_TIMEOUT_MS,
        }
      : undefined,
    policy: policyOf(config),
    usdPerUnit: config.REFUND_RESPONDER_USD_RATES,
    stateSchema: config.REFUND_RESPONDER_STATE_DB_SCHEMA,
    backoff: { baseMs: config.REFUND_RESPONDER_RETRY_BASE_MS, maxMs: config.REFUND_RESPONDER_RETRY_MAX_MS },
    pollIntervalMs: config.REFUND_RESPONDER_POLL_INTERVAL_MS,
    guard: guardTuning(config, clients.pool),
  });
  return {
    ...(await startConsumer(responder, clients, config, metrics)),
    app: createRefundApi({ pool: clients.pool, apiKeys: config.REFUND_RESPONDER_API_KEYS, logger }),
    port: config.PORT,
    host: config.HOST,
    listening: [
      {
        port: config.PORT,
        environment: config.APPLE_ENVIRONMENT,
        apiVersion: config.REFUND_RESPONDER_API_VERSION,
        hook: Boolean(config.REFUND_RESPONDER_HOOK_URL),
        assumeConsent: config.REFUND_RESPONDER_ASSUME_CONSENT,
      },
      'answering refund requests',
    ],
    closeGraceMs: 2000,
  };
}
