/**
 * Storeline Console: server-rendered pages over what the other services own. Access: sign-in with an
 * operator key (sessions in an HttpOnly, SameSite=Strict cookie), a CSRF token on every POST, admin-only
 * actions, every action logged. Only the runner's /healthz, /readyz and /metrics and the stylesheet are
 * served without a session.
 */
import { randomBytes } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import {
  SessionStore,
  cookie,
  findOperator,
  parseCookies,
  safeNext,
  sameToken,
  type Operator,
} from '../../lib/core/console/auth';
import { messagePage, signInPage } from '../../lib/core/console/layout';
import { errorMessage } from '../../lib/core/errors';
import { CHART_SCRIPT, CLIENT_SCRIPT } from '../../lib/core/console/opsViews';
import { CLIENT_JS, CSS, chartJs } from './assets';
import { audit, send, sessionOf, viewerOf, type ConsoleDeps, type Ctx } from './context';
import { opsRoutes } from './opsRoutes';
import { subscriberRoutes } from './subscriberRoutes';
import { webhookRoutes } from './webhookRoutes';

export interface AccessConfig {
  operators: Operator[];
  sessionTtlMs: number;
  secureCookies: boolean;
}

const SESSION = 'storeline_console';
const SIGNIN = 'storeline_console_signin';
const OPEN = new Set(['/healthz', '/readyz', '/metrics', '/static/console.css']);
const token = (): string => randomBytes(32).toString('base64url');

/** Content-Security-Policy: only this origin's scripts and styles, no framing. */
function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set({
    'content-security-policy':
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
  next();
}

export function createConsoleApp(deps: ConsoleDeps, access: AccessConfig): Express {
  const ctx: Ctx = { deps, now: deps.now ?? Date.now };
  const sessions = new SessionStore({ ttlMs: access.sessionTtlMs, now: ctx.now, random: token });
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders);
  app.get(
    '/static/console.css',
    (_req, res) => void res.type('css').set('cache-control', 'max-age=300').send(CSS),
  );
  app.get('/favicon.ico', (_req, res) => void res.status(204).end());
  app.use(express.urlencoded({ extended: false, limit: '32kb' }));
  signInRoutes(app, ctx, sessions, access);
  app.use((req, res, next) => requireSession(req, res, next, sessions));
  app.use(checkCsrf(ctx));
  const chart = chartJs();
  app.get(CHART_SCRIPT, (_req, res) => void res.type('js').set('cache-control', 'max-age=3600').send(chart));
  app.get(
    CLIENT_SCRIPT,
    (_req, res) => void res.type('js').set('cache-control', 'max-age=300').send(CLIENT_JS),
  );
  app.post('/signout', (_req, res) => {
    audit(ctx, res, 'sign-out');
    sessions.delete(sessionOf(res).id);
    res.set('set-cookie', cookie(SESSION, '', { maxAgeSeconds: 0, secure: access.secureCookies }));
    res.redirect(303, '/signin');
  });
  subscriberRoutes(app, ctx);
  opsRoutes(app, ctx);
  webhookRoutes(app, ctx);
  app.use(errors(ctx));
  return app;
}

function signInRoutes(app: Express, ctx: Ctx, sessions: SessionStore, access: AccessConfig): void {
  // Login CSRF: the form carries a token that must match a SameSite=Strict cookie set with the form.
  // An existing token is kept, so two open sign-in tabs (or a favicon request) do not void each other.
  const form = (req: Request, res: Response, next: string, error?: string, status = 200) => {
    const csrf = parseCookies(req.headers.cookie)[SIGNIN] ?? token();
    res.append('set-cookie', cookie(SIGNIN, csrf, { maxAgeSeconds: 1800, secure: access.secureCookies }));
    send(res, signInPage({ csrf, next, ...(error ? { error } : {}) }), status);
  };
  app.get('/signin', (req, res) => form(req, res, safeNext(req.query.next)));
  app.post('/signin', (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const next = safeNext(body.next);
    const expected = parseCookies(req.headers.cookie)[SIGNIN];
    if (!expected || !sameToken(String(body.csrf ?? ''), expected)) {
      audit(ctx, res, 'sign-in refused', { why: 'csrf', ip: req.ip });
      return form(req, res, next, 'The form expired; sign in again.', 403);
    }
    const op = findOperator(access.operators, typeof body.key === 'string' ? body.key : undefined);
    if (!op) {
      audit(ctx, res, 'sign-in refused', { why: 'unknown key', ip: req.ip });
      return form(req, res, next, 'That key is not an operator key.', 401);
    }
    const s = sessions.create(op);
    res.locals.session = s;
    audit(ctx, res, 'sign-in', { ip: req.ip });
    res.set('set-cookie', [
      cookie(SESSION, s.id, { maxAgeSeconds: access.sessionTtlMs / 1000, secure: access.secureCookies }),
      cookie(SIGNIN, '', { maxAgeSeconds: 0, secure: access.secureCookies }),
    ]);
    res.redirect(303, next);
  });
}

function requireSession(req: Request, res: Response, next: NextFunction, sessions: SessionStore): void {
  if (OPEN.has(req.path)) return next();
  const s = sessions.get(parseCookies(req.headers.cookie)[SESSION]);
  if (s) {
    res.locals.session = s;
    return next();
  }
  if (req.method === 'GET' && !req.path.startsWith('/stream/events')) {
    return res.redirect(303, `/signin?next=${encodeURIComponent(req.originalUrl)}`);
  }
  res.status(401).type('text').send('sign in first');
}

/** Every POST with a session carries the session's CSRF token (SameSite=Strict is the second line). */
function checkCsrf(ctx: Ctx) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'POST' || !res.locals.session) return next();
    const given = (req.body as Record<string, unknown> | undefined)?.csrf;
    if (typeof given === 'string' && sameToken(given, sessionOf(res).csrf)) return next();
    audit(ctx, res, 'refused', { method: req.method, path: req.path, why: 'csrf token missing or wrong' });
    send(
      res,
      messagePage(viewerOf(res), 'Forbidden', 'The form is stale (CSRF check failed); reload and try again.'),
      403,
    );
  };
}

function errors(ctx: Ctx) {
  return (err: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) return next(err);
    const status = (err as { status?: number } | null)?.status;
    if (!res.locals.session) {
      if (!status || status >= 500) ctx.deps.logger.error({ err, path: req.path }, 'console request failed');
      return void res
        .status(status && status < 500 ? status : 500)
        .type('text')
        .send('request failed');
    }
    if (status && status >= 400 && status < 500) {
      return send(res, messagePage(viewerOf(res), 'Request refused', errorMessage(err)), status);
    }
    ctx.deps.logger.error({ err, path: req.path }, 'console request failed');
    send(
      res,
      messagePage(viewerOf(res), 'Something failed', `The page could not be built: ${errorMessage(err)}`),
      500,
    );
  };
}
