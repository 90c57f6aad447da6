/** Overview charts, the live stream (server-sent events), dead letters with decoded view and re-drive. */
import type { Express, Response } from 'express';
import { bucketSeries, grouped, type Series } from '../../lib/core/console/charts';
import { messagePage } from '../../lib/core/console/layout';
import {
  dlqIndexPage,
  dlqPage,
  overviewPage,
  streamPage,
  type DlqSummary,
  type OverviewData,
} from '../../lib/core/console/opsViews';
import { redactRaw } from '../../lib/core/console/redact';
import { rawRecordPage } from '../../lib/core/console/subscriberViews';
import { filtersOf, matches, streamItem } from '../../lib/core/console/stream';
import {
  catalogDlqs,
  describeRawValue,
  redriveHeaders,
  redriveRefusal,
  redriveTarget,
  type DeadLetter,
  type DlqTopic,
} from '../../lib/core/dlq/deadLetters';
import { errorMessage } from '../../lib/core/errors';
import { consumerLag, readDlq, readRecord } from '../../lib/adapters/console/kafka';
import {
  eventsPerMinute,
  lifecyclePerDay,
  subscriptionsByStatus,
  webhookHealth,
} from '../../lib/adapters/console/queries';
import { existingTopics, writeRedrives } from '../../lib/platform/dlqReader';
import { audit, requireAdmin, route, send, sessionOf, takeFlash, viewerOf, type Ctx } from './context';

const MINUTE = 60_000;
const DAY = 86_400_000;
const EMPTY: Series = { labels: [], datasets: [] };
const SOURCE_TIMEOUT_MS = 4_000;

export function opsRoutes(app: Express, ctx: Ctx): void {
  app.get(
    '/',
    route(async (_req, res) => send(res, overviewPage(viewerOf(res), await overview(ctx)))),
  );
  streamRoutes(app, ctx);
  dlqRoutes(app, ctx);
}

/** Each chart's data; a source that fails leaves its chart empty with a note, never the whole page. */
async function overview(ctx: Ctx): Promise<OverviewData> {
  const { pools, kafka, lagGroups, dlqCounts } = ctx.deps;
  const now = ctx.now();
  const notes: string[] = [];
  // Each source gets a few seconds: a broker or database that hangs leaves its chart empty, not the page.
  const guard = <T>(what: string, p: Promise<T>, fallback: T): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_r, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${SOURCE_TIMEOUT_MS} ms`)),
        SOURCE_TIMEOUT_MS,
      );
    });
    return Promise.race([p, late])
      .catch((err) => {
        notes.push(`${what}: ${errorMessage(err)}`);
        return fallback;
      })
      .finally(() => clearTimeout(timer));
  };
  const minute = Math.floor(now / MINUTE) * MINUTE;
  const day = Math.floor(now / DAY) * DAY;
  const [perMinute, perDay, byStatus, lag, hooks] = await Promise.all([
    guard('events per minute', eventsPerMinute(pools.state, now), []),
    guard('events per day', lifecyclePerDay(pools.state, now), []),
    guard('subscriptions', subscriptionsByStatus(pools.state), []),
    guard('consumer lag', consumerLag(kafka, lagGroups), []),
    guard('webhooks', webhookHealth(pools.webhooks, now), []),
  ]);
  const dlq = dlqCounts.snapshot;
  if (dlq.error) notes.push(`dead letters: ${dlq.error}`);
  return {
    eventsPerMinute: bucketSeries(
      perMinute,
      { from: minute - 59 * MINUTE, to: minute, stepMs: MINUTE },
      (b) => new Date(b).toISOString().slice(11, 16),
    ),
    lifecyclePerDay: bucketSeries(perDay, { from: day - 29 * DAY, to: day, stepMs: DAY }, (b) =>
      new Date(b).toISOString().slice(0, 10),
    ),
    byStatus: grouped(byStatus),
    lag: grouped(lag.map((l) => ({ x: `${l.group} p${l.partition}`, series: l.topic, n: l.lag }))),
    dlq: grouped(dlq.counts.map((c) => ({ x: c.reason.slice(0, 60), series: c.topic, n: c.count }))),
    webhooks:
      hooks.length === 0
        ? EMPTY
        : {
            labels: hooks.map((h) => h.endpointId),
            datasets: [
              {
                label: 'success %',
                data: hooks.map((h) => Math.round((100 * h.successes) / Math.max(1, h.attempts))),
              },
              { label: 'mean latency ms', data: hooks.map((h) => h.avgLatencyMs) },
              { label: 'p95 latency ms', data: hooks.map((h) => h.p95LatencyMs) },
            ],
          },
    notes,
  };
}

function streamRoutes(app: Express, ctx: Ctx): void {
  app.get('/stream', (req, res) => send(res, streamPage(viewerOf(res), filtersOf(req.query))));
  app.get('/stream/events', (req, res) => {
    const filters = filtersOf(req.query);
    res.set({ 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    const emit = (event: string, data: unknown) =>
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    // `ready` once the console's consumer has joined and fetched: from then on nothing new is missed.
    const readiness = setInterval(() => {
      if (!ctx.deps.live.ready) return;
      clearInterval(readiness);
      emit('ready', {});
    }, 100);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    const unsubscribe = ctx.deps.live.subscribe((m) => {
      if (m.kind === 'event' && matches(filters, m.event)) emit('event', streamItem(m.event));
    });
    req.on('close', () => {
      clearInterval(readiness);
      clearInterval(heartbeat);
      unsubscribe();
    });
  });
}

async function dlqSummaries(ctx: Ctx): Promise<DlqSummary[]> {
  const dlqs = catalogDlqs(ctx.deps.names);
  const have = new Set(
    await existingTopics(
      ctx.deps.kafka,
      dlqs.map((d) => d.name),
    ),
  );
  return dlqs.map((d) => ({ id: d.id, name: d.name, exists: have.has(d.name), redrive: redriveRefusal(d) }));
}

function findDlq(ctx: Ctx, id: unknown): DlqTopic | undefined {
  return catalogDlqs(ctx.deps.names).find((d) => d.id === id);
}

/** Avro DLQs (canonical events, triggers) decoded through the registry; the rest as raw text, secrets removed. */
async function describe(ctx: Ctx, dlq: DlqTopic, d: DeadLetter): Promise<string> {
  const codec =
    dlq.source === 'subscriptionEvents'
      ? ctx.deps.eventCodec
      : dlq.source === 'engagementTriggers'
        ? ctx.deps.triggerCodec
        : undefined;
  if (codec && d.value && d.value[0] === 0) {
    try {
      return `avro:\n${JSON.stringify(await codec.decode(d.value), null, 2)}`;
    } catch (err) {
      return `avro does not decode (${errorMessage(err)}); ${describeRawValue(d.value)}`;
    }
  }
  return describeRawValue(redactRaw(d.value));
}

function notFound(res: Response, what: string): void {
  send(res, messagePage(viewerOf(res), 'Not found', what, '/dlq'), 404);
}

function dlqRoutes(app: Express, ctx: Ctx): void {
  app.get(
    '/dlq',
    route(async (_req, res) => {
      const { counts, readAt } = ctx.deps.dlqCounts.snapshot;
      send(res, dlqIndexPage(viewerOf(res), await dlqSummaries(ctx), counts, readAt));
    }),
  );
  app.get(
    '/dlq/:id',
    route(async (req, res) => {
      const dlq = findDlq(ctx, req.params.id);
      if (!dlq) return notFound(res, `No dead-letter topic ${String(req.params.id)}.`);
      const records = await readDlq(ctx.deps.kafka, dlq.name);
      const rows = records.map((d) => ({
        partition: d.partition,
        offset: d.offset,
        timestamp: d.timestamp,
        stage: d.headers['dlq.stage'] ?? null,
        reason: d.headers['dlq.reason'] ?? null,
        key: d.key?.toString('utf8') ?? null,
      }));
      const summary = { id: dlq.id, name: dlq.name, exists: true, redrive: redriveRefusal(dlq) };
      send(res, dlqPage(viewerOf(res), summary, rows.reverse(), takeFlash(res)));
    }),
  );
  app.get(
    '/dlq/:id/:partition/:offset',
    route(async (req, res) => {
      const dlq = findDlq(ctx, req.params.id);
      const at = { partition: Number(req.params.partition), offset: Number(req.params.offset) };
      if (!dlq || !Number.isSafeInteger(at.partition) || !Number.isSafeInteger(at.offset)) {
        return notFound(res, 'No such dead letter.');
      }
      const d = await readRecord(ctx.deps.kafka, dlq.name, at);
      if (!d) return notFound(res, `${dlq.name} has no record at ${at.partition}@${at.offset}.`);
      const key = d.key?.toString('utf8') ?? null;
      send(res, rawRecordPage(viewerOf(res), { ...d, key }, d.headers, await describe(ctx, dlq, d)));
    }),
  );
  app.post(
    '/dlq/:id/redrive',
    requireAdmin(ctx),
    route(async (req, res) => {
      const dlq = findDlq(ctx, req.params.id);
      const m = /^(\d+)@(\d+)$/.exec(String((req.body as Record<string, unknown>).position ?? ''));
      if (!dlq || !m) return notFound(res, 'No such dead letter.');
      const refusal = redriveRefusal(dlq);
      if (refusal) {
        audit(ctx, res, 'refused', { path: req.path, why: 're-drive refused for this DLQ' });
        return send(res, messagePage(viewerOf(res), 'Re-drive refused', refusal, '/dlq'), 409);
      }
      const d = await readRecord(ctx.deps.kafka, dlq.name, { partition: Number(m[1]), offset: Number(m[2]) });
      if (!d || !d.value) return notFound(res, `${dlq.name} has no record at ${m[0]}.`);
      const target = redriveTarget(dlq, ctx.deps.names, d);
      await writeRedrives(ctx.deps.kafka, [
        { topic: target, key: d.key, value: d.value, headers: redriveHeaders(d) },
      ]);
      audit(ctx, res, 'dlq re-drive', { dlq: dlq.name, position: m[0], target });
      sessionOf(res).flash = `Re-drove ${m[0]} to ${target}.`;
      res.redirect(303, `/dlq/${encodeURIComponent(dlq.id)}`);
    }),
  );
}
