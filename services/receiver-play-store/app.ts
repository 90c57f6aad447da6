/**
 * Play Store receiver: POST /play-store/pubsub (Pub/Sub push).
 * Authentic and well-formed -> the exact body on storeline.raw.play-store.v1 (key purchaseToken), then 204.
 * Unauthenticated -> 401 (no/invalid token) or 403 (valid token, wrong account); nothing published.
 * Authentic but undecodable `data` (or a package not served) -> raw DLQ with the reason, then 204: nacking
 * a poison message would stall the whole Pub/Sub subscription with push backoff.
 * Not a push envelope at all -> 400. Kafka down -> 503 (Pub/Sub redelivers).
 */
import { randomUUID } from 'node:crypto';
import express, { type Express, type Request, type Response } from 'express';
import { bodyErrorHandler } from '../../lib/platform/http';
import { rawBody, sendJson } from '../../lib/platform/rawBody';
import { Counter, type Registry } from 'prom-client';
import { receiverMetrics } from '../../lib/platform/metrics';
import { errorMessage } from '../../lib/core/errors';
import type { Logger } from '../../lib/platform/logger';
import type { Publish } from '../../lib/platform/publisher';
import { RAW_HEADERS } from '../../lib/core/rawHeaders';
import { dlqHeaders } from '../../lib/platform/dlq';
import { acceptPlay, type PlayAcceptance } from '../../lib/core/ingest/acceptPlay';
import { authenticatePush, PushAuthError, type PushAuth } from '../../lib/adapters/play/pushAuth';

export interface PlayReceiverDeps {
  auth: PushAuth;
  publish: Publish;
  rawTopic: string;
  dlqTopic: string;
  packageNames: string[];
  logger: Logger;
  metrics: Registry;
  bodyLimitBytes: number;
  now?: () => number;
}

const route = 'pubsub';

interface Receiver {
  deps: PlayReceiverDeps;
  now: () => number;
  requests: Counter<'route' | 'status'>;
  rejected: Counter<'route' | 'check'>;
  deadLettered: Counter<'stage'>;
}

export function createPlayReceiver(deps: PlayReceiverDeps): Express {
  const { requests, rejected } = receiverMetrics(deps.metrics);
  const deadLettered = new Counter({
    name: 'storeline_receiver_dlq_total',
    help: 'Authentic notifications dead-lettered at receipt',
    labelNames: ['stage'],
    registers: [deps.metrics],
  });
  const r: Receiver = { deps, now: deps.now ?? Date.now, requests, rejected, deadLettered };
  const app = express();
  app.disable('x-powered-by');
  app.post('/play-store/pubsub', rawBody(deps.bodyLimitBytes), (req: Request, res: Response) =>
    receive(r, req, res),
  );
  app.use(
    bodyErrorHandler({
      requests,
      routeOf: () => route,
      logger: deps.logger,
      bodyLimitBytes: deps.bodyLimitBytes,
    }),
  );
  return app;
}

async function receive(r: Receiver, req: Request, res: Response): Promise<void> {
  const requestId = (req.headers['x-request-id'] as string | undefined) ?? randomUUID();
  const log = r.deps.logger.child({ route, requestId });
  const reply = (status: number, body?: object) => {
    r.requests.inc({ route, status });
    if (body) sendJson(res, status, body);
    else res.writeHead(status).end();
  };
  const refused = await authenticate(r, req, log);
  if (refused) return reply(refused.status, refused.body);
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const receivedAt = r.now();
  const verdict = acceptPlay(
    { body, contentType: req.headers['content-type'], requestId },
    r.deps.packageNames,
  );
  if ('rejected' in verdict) {
    const { check, status, message } = verdict.rejected;
    r.rejected.inc({ route, check });
    return reply(status, { error: 'bad_request', check, message });
  }
  const stored = await store(r, log, { verdict, body, receivedAt, requestId });
  if (!stored) {
    return reply(503, { error: 'unavailable', message: 'could not store the notification; retry later' });
  }
  reply(204);
}

/** The refusal of an unauthenticated push (401 no or bad token, 403 wrong account), or undefined. */
async function authenticate(
  r: Receiver,
  req: Request,
  log: Logger,
): Promise<{ status: number; body: object } | undefined> {
  try {
    await authenticatePush(r.deps.auth, {
      authorization: req.headers.authorization,
      queryToken: typeof req.query.token === 'string' ? req.query.token : undefined,
    });
    return undefined;
  } catch (err) {
    if (!(err instanceof PushAuthError)) throw err;
    r.rejected.inc({ route, check: err.check });
    log.warn({ check: err.check, reason: err.message }, 'rejected push');
    const error = err.status === 401 ? 'unauthenticated' : 'forbidden';
    return { status: err.status, body: { error, check: err.check, message: err.message } };
  }
}

/** Publishes an accepted push to the raw topic, a poison one to the raw DLQ; false when Kafka did not take it. */
async function store(
  r: Receiver,
  log: Logger,
  p: {
    verdict: Exclude<PlayAcceptance, { rejected: unknown }>;
    body: Buffer;
    receivedAt: number;
    requestId: string;
  },
): Promise<boolean> {
  const { key, id: messageId, publishTime } = 'poison' in p.verdict ? p.verdict.poison : p.verdict.accepted;
  const poison = 'poison' in p.verdict ? p.verdict.poison.error : undefined;
  const headers = {
    [RAW_HEADERS.format]: 'play-store-pubsub',
    [RAW_HEADERS.receivedAt]: String(p.receivedAt),
    [RAW_HEADERS.requestId]: p.requestId,
    [RAW_HEADERS.notificationId]: messageId,
    'message-id': messageId,
    'publish-time': publishTime ?? '',
  };
  try {
    if (poison) {
      await r.deps.publish({
        topic: r.deps.dlqTopic,
        key,
        value: p.body,
        headers: dlqHeaders(headers, {
          stage: `receive:${poison.stage}`,
          reason: poison.message,
          retriable: false,
          firstSeen: new Date(p.receivedAt).toISOString(),
        }),
      });
      r.deadLettered.inc({ stage: poison.stage });
      log.error({ messageId, reason: poison.message }, 'authentic push dead-lettered');
    } else {
      await r.deps.publish({ topic: r.deps.rawTopic, key, value: p.body, headers });
      log.debug({ messageId, key }, 'accepted push'); // the raw topic is the record of what was accepted
    }
    return true;
  } catch (err) {
    log.error({ messageId, err: errorMessage(err) }, 'publish failed; answering 503 so Pub/Sub redelivers');
    return false;
  }
}
