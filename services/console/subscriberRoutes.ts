/** Subscriber search and page, and a canonical event's raw notification. */
import type { Express } from 'express';
import { z } from 'zod';
import { describeRawValue } from '../../lib/core/dlq/deadLetters';
import { messagePage } from '../../lib/core/console/layout';
import { redactRaw } from '../../lib/core/console/redact';
import { rawRecordPage, searchPage, subscriberPage } from '../../lib/core/console/subscriberViews';
import { storableText } from '../../lib/platform/http';
import { readRecord } from '../../lib/adapters/console/kafka';
import {
  deliveriesOf,
  playBasePlanOf,
  playResourceOf,
  searchSubscriptions,
  timeline,
  triggersOf,
} from '../../lib/adapters/console/queries';
import { getState } from '../../lib/adapters/state/store';
import { route, send, viewerOf, type Ctx } from './context';

const Text = storableText(1, 512);
const RawQuery = z.object({
  topic: storableText(1, 249),
  partition: z.coerce.number().int().min(0).max(100_000),
  offset: z.coerce.number().int().min(0),
});

export function subscriberRoutes(app: Express, ctx: Ctx): void {
  const { pools } = ctx.deps;
  app.get(
    '/subscribers',
    route(async (req, res) => {
      const raw = typeof req.query.q === 'string' ? req.query.q.trim() : '';
      if (!raw) return send(res, searchPage(viewerOf(res), '', undefined));
      const q = Text.safeParse(raw);
      if (!q.success) return send(res, searchPage(viewerOf(res), '', []), 400);
      const results = await searchSubscriptions(pools.state, q.data);
      if (results.length === 1)
        return res.redirect(303, `/subscribers/${encodeURIComponent(results[0]!.subscriptionKey)}`);
      send(res, searchPage(viewerOf(res), q.data, results));
    }),
  );

  app.get(
    '/subscribers/:key',
    route(async (req, res) => {
      const key = Text.safeParse(req.params.key);
      const state = key.success ? await getState(pools.state, key.data) : undefined;
      if (!key.success || !state) {
        return send(
          res,
          messagePage(
            viewerOf(res),
            'Not found',
            `No subscription ${String(req.params.key)}.`,
            '/subscribers',
          ),
          404,
        );
      }
      const [events, triggers, deliveries, basePlan] = await Promise.all([
        timeline(pools.state, key.data),
        triggersOf(pools.triggers, key.data).catch(() => []),
        deliveriesOf(pools.webhooks, key.data).catch(() => []),
        playBasePlanOf(pools.play, key.data).catch(() => null),
      ]);
      const data = { state, events, triggers, deliveries, basePlan, now: ctx.now() };
      send(res, subscriberPage(viewerOf(res), data));
    }),
  );

  // Only catalog topics may be read here: the page is for the records Storeline's own events point at.
  const catalog = new Set(ctx.deps.names.all().map((t) => t.name));
  app.get(
    '/raw',
    route(async (req, res) => {
      const q = RawQuery.safeParse(req.query);
      if (!q.success || !catalog.has(q.data.topic)) {
        return send(
          res,
          messagePage(viewerOf(res), 'Not found', 'No such record in the topic catalog.'),
          404,
        );
      }
      const { topic, partition, offset } = q.data;
      const r = await readRecord(ctx.deps.kafka, topic, { partition, offset });
      if (!r) {
        const why = `${topic} has no record at ${partition}@${offset} (expired by retention, or never written).`;
        return send(res, messagePage(viewerOf(res), 'Not found', why), 404);
      }
      const key = r.key?.toString('utf8') ?? null;
      const play =
        topic === ctx.deps.names.name('rawPlayStore') ? await playResourceOf(pools.play, r.value) : undefined;
      send(
        res,
        rawRecordPage(viewerOf(res), { ...r, key }, r.headers, describeRawValue(redactRaw(r.value)), play),
      );
    }),
  );
}
