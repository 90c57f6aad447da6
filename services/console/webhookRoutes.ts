/**
 * Webhooks: endpoints, deliveries and attempts; create, enable/disable, rotate secret, replay one or all
 * since a time. Actions use the fan-out's own endpoint manager and delivery store on its tables, so the
 * rules (SSRF check, secret format, replay semantics) are the admin API's; the fan-out's dispatcher picks
 * replayed deliveries up on its next poll.
 */
import type { Express, Request, Response } from 'express';
import { z } from 'zod';
import { messagePage } from '../../lib/core/console/layout';
import { deliveryPage, endpointPage, webhooksPage } from '../../lib/core/console/webhookViews';
import { CreateEndpoint, UpdateEndpoint } from '../../lib/adapters/webhooks/endpoints';
import { getDelivery, listDeliveries, replay } from '../../lib/adapters/webhooks/store/admin';
import { getEndpoint, listEndpoints, toPublic } from '../../lib/adapters/webhooks/store/endpoints';
import { storableText } from '../../lib/platform/http';
import { audit, requireAdmin, route, send, sessionOf, takeFlash, viewerOf, type Ctx } from './context';

const Id = storableText(1, 128);
const DeliveryId = z.string().regex(/^\d{1,18}$/);
const ReplayForm = z.object({
  since: z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
  status: z.enum(['failed', 'succeeded', 'any']).default('failed'),
});

const csvList = (v: unknown): string[] | null => {
  const items = String(v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return items.length ? items : null;
};

const filtersOf = (body: Record<string, unknown>) => ({
  eventTypes: csvList(body.eventTypes),
  appIds: csvList(body.appIds),
  environments: csvList(body.environments)?.map((e) => e.toUpperCase()) ?? null,
});

function createInput(body: Record<string, unknown>) {
  return CreateEndpoint.safeParse({
    url: String(body.url ?? '').trim(),
    description: String(body.description ?? '').trim() || null,
    ...filtersOf(body),
  });
}

const problems = (err: { issues: { path: PropertyKey[]; message: string }[] }): string =>
  err.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ');

export function webhookRoutes(app: Express, ctx: Ctx): void {
  const pool = ctx.deps.pools.webhooks;
  const admin = requireAdmin(ctx);
  const endpoints = async () => (await listEndpoints(pool)).map(toPublic);

  app.get(
    '/webhooks',
    route(async (_req, res) => send(res, webhooksPage(viewerOf(res), await endpoints()))),
  );

  app.post(
    '/webhooks',
    admin,
    route(async (req, res) => {
      const input = createInput(req.body as Record<string, unknown>);
      if (!input.success) {
        return send(
          res,
          messagePage(viewerOf(res), 'Endpoint not created', problems(input.error), '/webhooks'),
          400,
        );
      }
      const { endpoint, secret } = await ctx.deps.manager.create(input.data);
      audit(ctx, res, 'webhook endpoint created', { endpointId: endpoint.id, url: endpoint.url });
      // The secret is in this response only: no redirect, nothing stored in the session.
      send(res, webhooksPage(viewerOf(res), await endpoints(), { id: endpoint.id, secret }), 201);
    }),
  );

  app.get(
    '/webhooks/:id',
    route(async (req, res) => {
      const e = await endpointOr404(pool, req, res);
      if (!e) return;
      const deliveries = await listDeliveries(pool, { endpointId: e.id, limit: 200 });
      send(
        res,
        endpointPage(viewerOf(res), toPublic(e), deliveries, { now: ctx.now(), notice: takeFlash(res) }),
      );
    }),
  );

  for (const action of ['enable', 'disable'] as const) {
    app.post(
      `/webhooks/:id/${action}`,
      admin,
      route(async (req, res) => {
        const id = Id.parse(req.params.id);
        await ctx.deps.manager.setEnabled(
          id,
          action === 'enable',
          `disabled in the console by ${sessionOf(res).operator}`,
        );
        audit(ctx, res, `webhook endpoint ${action}d`, { endpointId: id });
        sessionOf(res).flash = `Endpoint ${id} ${action}d.`;
        res.redirect(303, `/webhooks/${encodeURIComponent(id)}`);
      }),
    );
  }

  app.post(
    '/webhooks/:id/filters',
    admin,
    route(async (req, res) => {
      const id = Id.parse(req.params.id);
      const change = UpdateEndpoint.safeParse(filtersOf(req.body as Record<string, unknown>));
      if (!change.success) {
        return send(
          res,
          messagePage(viewerOf(res), 'Filters not saved', problems(change.error), '/webhooks'),
          400,
        );
      }
      await ctx.deps.manager.update(id, change.data);
      audit(ctx, res, 'webhook endpoint filters changed', { endpointId: id, ...change.data });
      sessionOf(res).flash = `Filters of ${id} saved.`;
      res.redirect(303, `/webhooks/${encodeURIComponent(id)}`);
    }),
  );

  app.post(
    '/webhooks/:id/rotate',
    admin,
    route(async (req, res) => {
      const id = Id.parse(req.params.id);
      const { endpoint, secret } = await ctx.deps.manager.rotateSecret(id, 86_400_000);
      audit(ctx, res, 'webhook secret rotated', { endpointId: id, overlapSeconds: 86_400 });
      const deliveries = await listDeliveries(pool, { endpointId: id, limit: 200 });
      const notice = 'The previous secret keeps signing for 24 hours alongside the new one.';
      send(
        res,
        endpointPage(viewerOf(res), toPublic(endpoint), deliveries, {
          now: ctx.now(),
          secret: { id, secret },
          notice,
        }),
      );
    }),
  );

  app.post(
    '/webhooks/:id/replay',
    admin,
    route(async (req, res) => {
      const e = await endpointOr404(pool, req, res);
      if (!e) return;
      const form = ReplayForm.safeParse(req.body);
      if (!form.success) {
        return send(
          res,
          messagePage(
            viewerOf(res),
            'Not replayed',
            'since must be an ISO 8601 time with offset, e.g. 2026-01-01T00:00:00Z',
            '/webhooks',
          ),
          400,
        );
      }
      const ids = await replay(pool, { endpointId: e.id, ...form.data }, ctx.now());
      audit(ctx, res, 'webhook deliveries replayed', {
        endpointId: e.id,
        since: form.data.since,
        status: form.data.status,
        count: ids.length,
      });
      sessionOf(res).flash = `Replaying ${ids.length} deliveries.`;
      res.redirect(303, `/webhooks/${encodeURIComponent(e.id)}`);
    }),
  );

  deliveryRoutes(app, ctx);
}

async function endpointOr404(pool: Ctx['deps']['pools']['webhooks'], req: Request, res: Response) {
  const id = Id.safeParse(req.params.id);
  const e = id.success ? await getEndpoint(pool, id.data) : undefined;
  if (!e)
    send(
      res,
      messagePage(viewerOf(res), 'Not found', `No endpoint ${String(req.params.id)}.`, '/webhooks'),
      404,
    );
  return e;
}

function deliveryRoutes(app: Express, ctx: Ctx): void {
  const pool = ctx.deps.pools.webhooks;
  app.get(
    '/deliveries/:id',
    route(async (req, res) => {
      const id = DeliveryId.safeParse(req.params.id);
      const d = id.success ? await getDelivery(pool, id.data) : undefined;
      if (!d)
        return send(
          res,
          messagePage(viewerOf(res), 'Not found', `No delivery ${String(req.params.id)}.`, '/webhooks'),
          404,
        );
      send(res, deliveryPage(viewerOf(res), d, d.attemptLog));
    }),
  );
  app.post(
    '/deliveries/:id/replay',
    requireAdmin(ctx),
    route(async (req, res) => {
      const id = DeliveryId.safeParse(req.params.id);
      const d = id.success ? await getDelivery(pool, id.data) : undefined;
      if (!d)
        return send(
          res,
          messagePage(viewerOf(res), 'Not found', `No delivery ${String(req.params.id)}.`, '/webhooks'),
          404,
        );
      const ids = await replay(pool, { deliveryId: d.id }, ctx.now());
      audit(ctx, res, 'webhook delivery replayed', {
        deliveryId: d.id,
        endpointId: d.endpointId,
        replayed: ids.length,
      });
      sessionOf(res).flash = ids.length
        ? `Delivery ${d.id} replayed.`
        : `Delivery ${d.id} is still pending; nothing to replay.`;
      res.redirect(303, `/webhooks/${encodeURIComponent(d.endpointId)}`);
    }),
  );
}
