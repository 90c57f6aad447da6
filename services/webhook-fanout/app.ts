/**
 * Admin API (API-key auth, JSON):
 *   POST   /v1/endpoints                          create; the answer holds the secret, shown this once
 *   GET    /v1/endpoints                          list (never secrets)
 *   GET    /v1/endpoints/:id                      one endpoint
 *   PATCH  /v1/endpoints/:id                      change url, filters, concurrency, timeout, enabled
 *   POST   /v1/endpoints/:id/disable | /enable    stop or resume deliveries (pending ones wait, none lost)
 *   POST   /v1/endpoints/:id/rotate-secret        new secret; the old one keeps signing for overlapSeconds
 *   GET    /v1/endpoints/:id/deliveries           ?status=failed|pending|succeeded&since=<ISO>&limit&before
 *   POST   /v1/endpoints/:id/replay               {since: ISO, status?: failed|succeeded|any} -> replays
 *   GET    /v1/deliveries/:id                     a delivery with every attempt (status, latency, code)
 *   POST   /v1/deliveries/:id/replay              send again, same webhook-id and body
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Pool } from 'pg';
import { z } from 'zod';
import { apiErrorHandler, apiKeyAuth, badRequest, storableText } from '../../lib/platform/http';
import type { Logger } from '../../lib/platform/logger';
import {
  CreateEndpoint,
  EndpointError,
  type EndpointManager,
  UpdateEndpoint,
} from '../../lib/adapters/webhooks/endpoints';
import { getDelivery, listDeliveries, replay } from '../../lib/adapters/webhooks/store/admin';
import { getEndpoint, listEndpoints, toPublic } from '../../lib/adapters/webhooks/store/endpoints';

export interface WebhookApiDeps {
  pool: Pool;
  manager: EndpointManager;
  apiKeys: string[];
  logger: Logger;
  /** Called after changes that make deliveries due (enable, replay), to dispatch without waiting a tick. */
  onDue?: () => void;
  now?: () => number;
}

const Id = storableText(1, 128);
const DeliveryId = z.string().regex(/^\d{1,18}$/, 'must be a delivery id');
const Iso = z.iso.datetime({ offset: true }).transform((s) => Date.parse(s));
const DeliveryQuery = z.object({
  status: z.enum(['pending', 'succeeded', 'failed']).optional(),
  since: Iso.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: DeliveryId.optional(),
});
const ReplayBody = z.strictObject({
  since: Iso,
  status: z.enum(['failed', 'succeeded', 'any']).default('failed'),
});
const RotateBody = z.strictObject({
  overlapSeconds: z
    .number()
    .int()
    .min(0)
    .max(7 * 86_400)
    .default(86_400),
});

type Handler = (req: Request, res: Response) => Promise<unknown>;

/** What every route group uses: the dependencies, the clock, async errors to the error handlers, 404s. */
interface RouteContext {
  deps: WebhookApiDeps;
  now: () => number;
  route: (h: Handler) => (req: Request, res: Response, next: NextFunction) => Promise<unknown>;
  notFound: (res: Response, what: string) => Response;
}

export function createWebhookApi(deps: WebhookApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use('/v1', apiKeyAuth(deps.apiKeys), express.json({ limit: '64kb' }));
  const ctx: RouteContext = {
    deps,
    now: deps.now ?? Date.now,
    route: (h) => (req, res, next) => h(req, res).catch(next),
    notFound: (res, what) => res.status(404).json({ error: 'not_found', message: what }),
  };
  endpointRoutes(app, ctx);
  endpointActions(app, ctx);
  deliveryRoutes(app, ctx);
  app.use(adminErrors);
  app.use(apiErrorHandler(deps.logger, 'admin API request'));
  return app;
}

/** Create, list, read and change endpoints. */
function endpointRoutes(app: Express, ctx: RouteContext): void {
  app.post(
    '/v1/endpoints',
    ctx.route(async (req, res) => {
      const body = CreateEndpoint.safeParse(req.body ?? {});
      if (!body.success) return badRequest(res, body.error);
      const { endpoint, secret } = await ctx.deps.manager.create(body.data);
      ctx.deps.logger.info({ endpointId: endpoint.id, url: endpoint.url }, 'endpoint created');
      res.status(201).json({ ...toPublic(endpoint), secret });
    }),
  );

  app.get(
    '/v1/endpoints',
    ctx.route(async (_req, res) => {
      res.json({ items: (await listEndpoints(ctx.deps.pool)).map(toPublic) });
    }),
  );

  app.get(
    '/v1/endpoints/:id',
    ctx.route(async (req, res) => {
      const id = Id.safeParse(req.params.id);
      if (!id.success) return badRequest(res, id.error);
      const e = await getEndpoint(ctx.deps.pool, id.data);
      if (!e) return ctx.notFound(res, `no endpoint ${id.data}`);
      res.json(toPublic(e));
    }),
  );

  app.patch(
    '/v1/endpoints/:id',
    ctx.route(async (req, res) => {
      const id = Id.safeParse(req.params.id);
      const body = UpdateEndpoint.safeParse(req.body ?? {});
      if (!id.success) return badRequest(res, id.error);
      if (!body.success) return badRequest(res, body.error);
      const e = await ctx.deps.manager.update(id.data, body.data);
      ctx.deps.logger.info({ endpointId: e.id, fields: Object.keys(body.data) }, 'endpoint updated');
      if (e.enabled) ctx.deps.onDue?.();
      res.json(toPublic(e));
    }),
  );
}

/** Enable, disable, rotate the secret. */
function endpointActions(app: Express, ctx: RouteContext): void {
  for (const action of ['enable', 'disable'] as const) {
    app.post(
      `/v1/endpoints/:id/${action}`,
      ctx.route(async (req, res) => {
        const id = Id.safeParse(req.params.id);
        if (!id.success) return badRequest(res, id.error);
        const e = await ctx.deps.manager.setEnabled(id.data, action === 'enable', 'disabled by API');
        ctx.deps.logger.info({ endpointId: e.id }, `endpoint ${action}d`);
        if (e.enabled) ctx.deps.onDue?.();
        res.json(toPublic(e));
      }),
    );
  }

  app.post(
    '/v1/endpoints/:id/rotate-secret',
    ctx.route(async (req, res) => {
      const id = Id.safeParse(req.params.id);
      const body = RotateBody.safeParse(req.body ?? {});
      if (!id.success) return badRequest(res, id.error);
      if (!body.success) return badRequest(res, body.error);
      const { endpoint, secret } = await ctx.deps.manager.rotateSecret(
        id.data,
        body.data.overlapSeconds * 1000,
      );
      ctx.deps.logger.info(
        { endpointId: endpoint.id, overlapSeconds: body.data.overlapSeconds },
        'secret rotated',
      );
      res.json({ ...toPublic(endpoint), secret });
    }),
  );
}

/** Delivery logs and replays, per endpoint and per delivery. */
function deliveryRoutes(app: Express, ctx: RouteContext): void {
  app.get(
    '/v1/endpoints/:id/deliveries',
    ctx.route(async (req, res) => {
      const id = Id.safeParse(req.params.id);
      const q = DeliveryQuery.safeParse(req.query);
      if (!id.success) return badRequest(res, id.error);
      if (!q.success) return badRequest(res, q.error);
      if (!(await getEndpoint(ctx.deps.pool, id.data))) return ctx.notFound(res, `no endpoint ${id.data}`);
      const items = await listDeliveries(ctx.deps.pool, { endpointId: id.data, ...q.data });
      res.json({ items, nextBefore: items.length === q.data.limit ? items[items.length - 1]!.id : null });
    }),
  );

  app.post(
    '/v1/endpoints/:id/replay',
    ctx.route(async (req, res) => {
      const id = Id.safeParse(req.params.id);
      const body = ReplayBody.safeParse(req.body ?? {});
      if (!id.success) return badRequest(res, id.error);
      if (!body.success) return badRequest(res, body.error);
      if (!(await getEndpoint(ctx.deps.pool, id.data))) return ctx.notFound(res, `no endpoint ${id.data}`);
      const ids = await replay(ctx.deps.pool, { endpointId: id.data, ...body.data }, ctx.now());
      ctx.deps.logger.info({ endpointId: id.data, count: ids.length }, 'deliveries replayed');
      ctx.deps.onDue?.();
      res.status(202).json({ replayed: ids.length, deliveryIds: ids });
    }),
  );

  app.get(
    '/v1/deliveries/:id',
    ctx.route(async (req, res) => {
      const id = DeliveryId.safeParse(req.params.id);
      if (!id.success) return badRequest(res, id.error);
      const d = await getDelivery(ctx.deps.pool, id.data);
      if (!d) return ctx.notFound(res, `no delivery ${id.data}`);
      res.json(d);
    }),
  );

  app.post(
    '/v1/deliveries/:id/replay',
    ctx.route(async (req, res) => {
      const id = DeliveryId.safeParse(req.params.id);
      if (!id.success) return badRequest(res, id.error);
      const d = await getDelivery(ctx.deps.pool, id.data);
      if (!d) return ctx.notFound(res, `no delivery ${id.data}`);
      if (d.status === 'pending') {
        return res.status(409).json({ error: 'conflict', message: `delivery ${id.data} is still pending` });
      }
      await replay(ctx.deps.pool, { deliveryId: id.data }, ctx.now());
      ctx.deps.logger.info({ deliveryId: id.data, endpointId: d.endpointId }, 'delivery replayed');
      ctx.deps.onDue?.();
      res.status(202).json({ replayed: 1, deliveryIds: [id.data] });
    }),
  );
}

/** Endpoint errors and unreadable bodies as JSON answers; anything else to the generic handler. */
function adminErrors(err: unknown, _req: Request, res: Response, next: NextFunction): unknown {
  if (res.headersSent) return next(err);
  if (err instanceof EndpointError) {
    return res.status(err.status).json({
      error: err.status === 404 ? 'not_found' : err.status === 409 ? 'conflict' : 'bad_request',
      message: err.message,
    });
  }
  const e = err as { type?: string; status?: number };
  if (e.type === 'entity.parse.failed' || e.type === 'entity.too.large') {
    return res
      .status(e.status ?? 400)
      .json({ error: 'bad_request', message: 'body must be JSON under 64 kB' });
  }
  next(err);
}
