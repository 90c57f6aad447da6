/** HTTP plumbing every service shares: health, readiness, the /metrics route, API errors, and a bounded close. */
import type { Readiness } from './consumerGuard';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler, type Express, type RequestHandler, type Response } from 'express';
import { z, type ZodError } from 'zod';
import type { Counter, Registry } from 'prom-client';
import { errorMessage } from '../core/errors';
import type { Logger } from './logger';
import { sendJson } from './rawBody';

/** /healthz (process is alive), /readyz (dependencies answer), /metrics (Prometheus). */
export function mountOps(
  app: Express,
  opts: { metrics: Registry; ready: () => Promise<boolean | Readiness> | boolean | Readiness },
): void {
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    let r: Readiness;
    try {
      const answer = await opts.ready();
      r = typeof answer === 'boolean' ? { ready: answer, reasons: [] } : answer;
    } catch (err) {
      r = {
        ready: false,
        reasons: [`readiness check failed: ${err instanceof Error ? err.message : String(err)}`],
      };
    }
    res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'not ready', reasons: r.reasons });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(opts.metrics.contentType).send(await opts.metrics.metrics());
  });
}

/**
 * Starts serving `app`, after a last handler that answers unknown routes with a JSON 404 (express's own
 * is an HTML page, which API clients and load balancers log as garbage).
 */
export function listen(app: Express, port: number, host = '0.0.0.0'): Promise<Server> {
  app.use((req, res) => {
    res.status(404).json({ error: 'not found', method: req.method, path: req.path });
  });
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, () => resolve(server));
    server.once('error', reject);
  });
}

/** Stops accepting, lets in-flight requests finish, and force-closes what is left after `graceMs`. */
export function closeServer(server: Server, graceMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

export { express };

export interface BodyErrorOptions {
  requests: Counter<'route' | 'status'>;
  routeOf: (path: string) => string;
  logger: Logger;
  bodyLimitBytes: number;
}

/**
 * Answers a request whose body could not be read: over the limit -> 413, unreadable -> 400, anything else
 * -> 500; counted by route and status, logged without the body.
 */
export function answerBodyError(
  opts: BodyErrorOptions,
  err: { type?: string; status?: number; message?: string },
  path: string,
  res: ServerResponse,
): void {
  const route = opts.routeOf(path);
  const status = err.type === 'entity.too.large' ? 413 : err.status && err.status < 500 ? 400 : 500;
  opts.requests.inc({ route, status });
  opts.logger.warn({ route, status, type: err.type, err: err.message }, 'request failed');
  sendJson(res, status, {
    error: status === 413 ? 'payload_too_large' : status === 400 ? 'bad_request' : 'internal',
    message:
      status === 413
        ? `body exceeds ${opts.bodyLimitBytes} bytes`
        : status === 400
          ? 'request could not be read'
          : 'request could not be processed',
  });
}

/** answerBodyError as the receivers' express error handler. */
export function bodyErrorHandler(opts: BodyErrorOptions): ErrorRequestHandler {
  return (err: { type?: string; status?: number; message?: string }, req, res, next) => {
    if (res.headersSent) return next(err);
    answerBodyError(opts, err, req.path, res);
  };
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * API-key auth for the services' HTTP APIs: `Authorization: Bearer <key>` or `x-api-key: <key>`, compared
 * in constant time (on digests, so lengths do not leak either); 401 otherwise.
 */
export function apiKeyAuth(apiKeys: readonly string[]): RequestHandler {
  const keys = apiKeys.map(digest);
  return (req, res, next) => {
    const header = req.headers.authorization;
    const given = header?.startsWith('Bearer ')
      ? header.slice(7)
      : (req.headers['x-api-key'] as string | undefined);
    const d = given ? digest(given) : undefined;
    if (!d || !keys.some((k) => timingSafeEqual(k, d))) {
      res.status(401).json({
        error: 'unauthorized',
        message: 'a valid API key is required (Authorization: Bearer <key>)',
      });
      return;
    }
    next();
  };
}

/** 400 naming every invalid field. */
export function badRequest(res: Response, err: ZodError): void {
  res.status(400).json({
    error: 'bad_request',
    message: err.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; '),
  });
}

/**
 * A string PostgreSQL can store as text: it refuses NUL (U+0000) with an error (SQLSTATE 22021), which would
 * be a 500; refused here, the 400 names the field. Use for every request string that reaches a query.
 */
export function storableText(min: number, max: number) {
  return z
    .string()
    .min(min)
    .max(max)
    .refine((s) => !s.includes('\u0000'), 'must not contain NUL (U+0000)');
}

// Text PostgreSQL cannot store: 22021 character_not_in_repertoire (NUL in text), 22P05 untranslatable_character
// (\u0000 in json/jsonb). https://www.postgresql.org/docs/current/errcodes-appendix.html
const PG_UNSTORABLE_TEXT = new Set(['22021', '22P05']);

/**
 * A 400 for errors that are the request's fault but are raised outside a handler's validation; undefined for
 * anything else (a 500).
 */
function clientError(err: unknown): { status: 400; message: string } | undefined {
  // express's router decodes path parameters before any handler runs; `%zz` or a truncated UTF-8 sequence
  // (`%E0%A4%A`) throws a URIError there.
  if (err instanceof URIError) {
    return { status: 400, message: 'a path parameter is not valid percent-encoded UTF-8' };
  }
  // A request string no schema refused (say, a body field) that PostgreSQL cannot store.
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && PG_UNSTORABLE_TEXT.has(code)) {
    return { status: 400, message: 'the request holds text that cannot be stored (NUL, U+0000)' };
  }
  return undefined;
}

/** The last error handler of a JSON API: client errors as 400 (see clientError); the rest logged, 500. */
export function apiErrorHandler(logger: Logger, what: string): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const client = clientError(err);
    if (client) {
      logger.warn({ method: req.method, status: client.status, err: errorMessage(err) }, `${what}: refused`);
      res.status(client.status).json({ error: 'bad_request', message: client.message });
      return;
    }
    logger.error({ err }, `${what} failed`);
    res.status(500).json({ error: 'internal', message: `${what} failed` });
  };
}
