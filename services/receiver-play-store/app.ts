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
import { Counter, type Registry } from 'prom-client';
import { receiverMetrics } from '../../lib/platform/lifecycle';
import { errorMessage } from '../../lib/core/errors';
import type { Logger } from '../../lib/platform/logger';
import type { Publish } from '../../lib/platform/publisher';
import { RAW_HEADERS } from '../../lib/core/rawHeaders';
import { dlqHeaders } from '../../lib/platform/dlq';
import { acceptPlay } from '../../lib/core/ingest/acceptPlay';
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

export function createPlayReceiver(deps: PlayReceiverDeps): Express {
  const now = deps.now ?? Date.now;
  const { requests, rejected } = receiverMetrics(deps.metrics);
  const deadLettered = new Counter({
    name: 'storeline_receiver_dlq_total',
    help: 'Authentic notifications dead-lettered at receipt',
    labelNames: ['stage'],
    registers: [deps.metrics],
  });
  const route = 'pubsub';
  const app = express();
  app.disable('x-powered-by');

  app.post(
    '/play-store/pubsub',
    express.raw({ type: () => true, limit: deps.bodyLimitBytes }),
    async (req: Request, res: Response) => {
      const requestId = (req.headers['x-request-id'] as string | undefined) ?? randomUUID();
      const log = deps.logger.child({ route, requestId });
      const reply = (status: number, body?: object) => {
        requests.inc({ route, status });
        if (body) res.status(status).json(body);
        else res.status(status).end();
      };
      try {
        await authenticatePush(deps.auth, {
          authorization: req.headers.authorization,
          queryToken: typeof req.query.token === 'string' ? req.query.token : undefined,
        });
      } catch (err) {
        if (!(err instanceof PushAuthError)) throw err;
        rejected.inc({ route, check: err.check });
        log.warn({ check: err.check, reason: err.message }, 'rejected push');
        return reply(err.status, {
          error: err.status === 401 ? 'unauthenticated' : 'forbidden',
          check: err.check,
          message: err.message,
        });
      }
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const receivedAt = now();
      const verdict = acceptPlay(
        { body, contentType: req.headers['content-type'], requestId },
        deps.packageNames,
      );
      if ('rejected' in verdict) {
        const { check, status, message } = verdict.rejected;
        rejected.inc({ route, check });
        return reply(status, { error: 'bad_request', check, message });
      }
      const { key, id: messageId, publishTime } = 'poison' in verdict ? verdict.poison : verdict.accepted;
      const poison = 'poison' in verdict ? verdict.poison.error : undefined;
      const headers = {
        [RAW_HEADERS.format]: 'play-store-pubsub',
        [RAW_HEADERS.receivedAt]: String(receivedAt),
        [RAW_HEADERS.requestId]: requestId,
        [RAW_HEADERS.notificationId]: messageId,
        'message-id': messageId,
        'publish-time': publishTime ?? '',
      };
      try {
        if (poison) {
          await deps.publish({
            topic: deps.dlqTopic,
            key,
            value: body,
            headers: dlqHeaders(headers, {
              stage: `receive:${poison.stage}`,
              reason: poison.message,
              retriable: false,
              firstSeen: new Date(receivedAt).toISOString(),
            }),
          });
          deadLettered.inc({ stage: poison.stage });
          log.error({ messageId, reason: poison.message }, 'authentic push dead-lettered');
        } else {
          await deps.publish({ topic: deps.rawTopic, key, value: body, headers });
          log.info({ messageId, key }, 'accepted push');
        }
      } catch (err) {
        log.error(
          { messageId, err: errorMessage(err) },
          'publish failed; answering 503 so Pub/Sub redelivers',
        );
        return reply(503, { error: 'unavailable', message: 'could not store the notification; retry later' });
      }
      reply(204);
    },
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
