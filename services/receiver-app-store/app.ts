/**
 * App Store receiver: verify first, publish the exact body bytes to the raw topic with acks=all, then 200.
 *   POST /app-store/v2  {"signedPayload": "<JWS>"}  (App Store Server Notifications V2)
 *   POST /app-store/v1  legacy JSON with `password` = shared secret (mounted only when a secret is configured)
 * Answers: 200 once Kafka has the record; 400 malformed JSON or wrong content-type; 401 forged or
 * unverifiable (JSON error naming the failed check; nothing published); 413 over the body limit; 503 when
 * Kafka is down or the publish times out, so Apple retries. Duplicates are published as they come:
 * deduplication by notification id happens downstream.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import { frontRoutes } from '../../lib/platform/frontRoute';
import { answerBodyError } from '../../lib/platform/http';
import { readRawBody, sendJson } from '../../lib/platform/rawBody';
import { Histogram, type Registry } from 'prom-client';
import { receiverMetrics } from '../../lib/platform/metrics';
import type { AppleVerifier } from '../../lib/core/app-store/verify';
import { acceptAppStore } from '../../lib/core/ingest/acceptAppStore';
import { errorMessage } from '../../lib/core/errors';
import type { Logger } from '../../lib/platform/logger';
import type { Publish } from '../../lib/platform/publisher';
import { RAW_HEADERS } from '../../lib/core/rawHeaders';

export interface AppStoreReceiverDeps {
  verifier: AppleVerifier;
  publish: Publish;
  rawTopic: string;
  logger: Logger;
  metrics: Registry;
  /** Enables POST /app-store/v1 when set. */
  v1SharedSecret?: string;
  bodyLimitBytes: number;
  now?: () => number;
}

export function createAppStoreReceiver(deps: AppStoreReceiverDeps): Express {
  const now = deps.now ?? Date.now;
  const { requests, rejected } = receiverMetrics(deps.metrics);
  const publishLatency = new Histogram({
    name: 'storeline_receiver_publish_seconds',
    help: 'Time for Kafka to acknowledge a raw notification (acks=all)',
    buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [deps.metrics],
  });

  const bodyErrors = {
    requests,
    routeOf: (path: string) => (path.endsWith('/v1') ? 'v1' : 'v2'),
    logger: deps.logger,
    bodyLimitBytes: deps.bodyLimitBytes,
  };

  const accept = async (
    route: 'v2' | 'v1',
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
  ): Promise<void> => {
    const requestId = (req.headers['x-request-id'] as string | undefined) ?? randomUUID();
    // A child logger only where a line is written: the accepted path writes none at info level.
    const log = () => deps.logger.child({ route, requestId });
    const reply = (status: number, answer: object) => {
      requests.inc({ route, status });
      sendJson(res, status, answer);
    };
    const contentType = req.headers['content-type'];
    const receivedAt = now();
    const format = route === 'v2' ? 'app-store-v2' : 'app-store-v1';
    const verdict = acceptAppStore(
      { format, body, contentType, now: receivedAt },
      { verifier: deps.verifier, v1SharedSecret: deps.v1SharedSecret },
    );
    if ('rejected' in verdict) {
      const { check, status, message } = verdict.rejected;
      rejected.inc({ route, check });
      if (check === 'content_type')
        log().warn({ contentType }, 'rejected: content-type is not application/json');
      else log().warn({ check, reason: message }, 'rejected notification');
      return reply(status, { error: status === 400 ? 'bad_request' : 'unauthenticated', check, message });
    }
    const { key, id: notificationId, env: environment } = verdict.accepted;
    const stop = publishLatency.startTimer();
    try {
      await deps.publish({
        topic: deps.rawTopic,
        key,
        value: body, // the exact bytes received
        headers: {
          [RAW_HEADERS.format]: format,
          [RAW_HEADERS.receivedAt]: String(receivedAt),
          [RAW_HEADERS.requestId]: requestId,
          [RAW_HEADERS.environment]: environment,
          [RAW_HEADERS.notificationId]: notificationId,
        },
      });
    } catch (err) {
      log().error(
        { notificationId, err: errorMessage(err) },
        'publish failed; answering 503 so the store retries',
      );
      return reply(503, { error: 'unavailable', message: 'could not store the notification; retry later' });
    } finally {
      stop();
    }
    // Debug, not info: one line per accepted notification is the raw topic's job (its headers carry the
    // request id); at info it was a write to stdout per request on the receiver's hot path.
    if (deps.logger.isLevelEnabled('debug')) log().debug({ notificationId, key }, 'accepted notification');
    reply(200, { status: 'accepted', notificationId });
  };

  // Served before express (lib/platform/frontRoute.ts): these routes are the receiver's whole load.
  const handle =
    (route: 'v2' | 'v1', path: string) =>
    (req: IncomingMessage, res: ServerResponse): void => {
      const failed = (err: { type?: string; status?: number; message?: string }) => {
        // A body that could not be read (413, 400), or a bug (500): answered once, counted and logged.
        if (!res.headersSent) answerBodyError(bodyErrors, err, path, res);
      };
      readRawBody(req, deps.bodyLimitBytes)
        .then((body) => accept(route, req, res, body), failed)
        .catch(failed);
    };
  const app = express();
  app.disable('x-powered-by');
  return frontRoutes(app, {
    'POST /app-store/v2': handle('v2', '/app-store/v2'),
    ...(deps.v1SharedSecret && { 'POST /app-store/v1': handle('v1', '/app-store/v1') }),
  });
}
