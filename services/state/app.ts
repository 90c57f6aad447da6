/**
 * Query API: "is this user entitled right now, and why?"
 *   GET /v1/subscriptions/:subscriptionKey          state + last 50 events
 *   GET /v1/users/:appUserId/subscriptions          states, cursor-paginated by subscriptionKey
 *   GET /v1/users/:appUserId/entitlements           products the user has access to now, with expiry
 *   GET /openapi.json                               this API's OpenAPI 3.1 document (no auth)
 * Auth: `Authorization: Bearer <key>` or `x-api-key: <key>`, keys from config; 401 without a valid key.
 * 400 (JSON) for a parameter that is invalid, holds NUL, or is not valid percent-encoded UTF-8.
 */
import express, { type Express } from 'express';
import type { Pool } from 'pg';
import { z } from 'zod';
import { apiErrorHandler, apiKeyAuth, badRequest as bad, storableText } from '../../lib/platform/http';
import type { Logger } from '../../lib/platform/logger';
import { entitledAt } from '../../lib/core/state/fold';
import { openApiDocument } from '../../lib/core/state/openapi';
import { getState, recentEvents, statesOfUser } from '../../lib/adapters/state/store';

export interface StateApiDeps {
  pool: Pool;
  apiKeys: string[];
  logger: Logger;
  now?: () => number;
}

const Key = storableText(1, 512);
const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: storableText(1, 512).optional(),
});

export function createStateApi(deps: StateApiDeps): Express {
  const now = deps.now ?? Date.now;
  const app = express();
  app.disable('x-powered-by');
  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument);
  });

  const auth = apiKeyAuth(deps.apiKeys);

  app.get('/v1/subscriptions/:subscriptionKey', auth, async (req, res) => {
    const key = Key.safeParse(req.params.subscriptionKey);
    if (!key.success) return bad(res, key.error);
    const state = await getState(deps.pool, key.data);
    if (!state) return res.status(404).json({ error: 'not_found', message: `no subscription ${key.data}` });
    res.json({
      state: { ...state, entitledNow: entitledAt(state, now()) },
      events: await recentEvents(deps.pool, key.data, 50),
    });
  });

  app.get('/v1/users/:appUserId/subscriptions', auth, async (req, res) => {
    const user = Key.safeParse(req.params.appUserId);
    const q = ListQuery.safeParse(req.query);
    if (!user.success) return bad(res, user.error);
    if (!q.success) return bad(res, q.error);
    const page = await statesOfUser(deps.pool, user.data, q.data.limit + 1, q.data.cursor);
    const items = page.slice(0, q.data.limit);
    if (items.length === 0 && !q.data.cursor)
      return res.status(404).json({ error: 'not_found', message: `no subscriptions for user ${user.data}` });
    res.json({
      items: items.map((s) => ({ ...s, entitledNow: entitledAt(s, now()) })),
      nextCursor: page.length > q.data.limit ? (items[items.length - 1]?.subscriptionKey ?? null) : null,
    });
  });

  app.get('/v1/users/:appUserId/entitlements', auth, async (req, res) => {
    const user = Key.safeParse(req.params.appUserId);
    if (!user.success) return bad(res, user.error);
    const states = await statesOfUser(deps.pool, user.data, 1000);
    if (states.length === 0)
      return res.status(404).json({ error: 'not_found', message: `no subscriptions for user ${user.data}` });
    const at = now();
    res.json({
      appUserId: user.data,
      asOf: at,
      entitlements: states
        .filter((s) => entitledAt(s, at) && s.productId)
        .map((s) => ({
          productId: s.productId,
          subscriptionKey: s.subscriptionKey,
          store: s.store,
          status: s.status,
          expiresAt: s.status === 'GRACE_PERIOD' ? (s.gracePeriodExpiresAt ?? s.expiresAt) : s.expiresAt,
          autoRenew: s.autoRenew,
        })),
    });
  });

  app.use(apiErrorHandler(deps.logger, 'query'));
  return app;
}
