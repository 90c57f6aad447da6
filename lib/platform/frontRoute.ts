/**
 * Routes served before express: a receiver's one hot route, handled on node:http's request and response.
 *
 * Why: bench P1 (bench/README.md, "Issue 15, fourth pass") served the receiver's publisher, without
 * verification, behind express and behind plain node:http in the same runs: 2,450–3,830 against
 * 3,430–6,890 requests/s. Express's own work per request (its router, re-prototyping req and res, res.send)
 * was most of what the App Store receiver spent outside verification and the Kafka write; with its route
 * served here the receiver went from 2,128 to 2,939 requests/s (medians of 3). Everything else (health,
 * readiness, metrics, 404s) stays on express.
 *
 * It works by replacing `app.handle`, the method the express application function delegates every
 * request to (express 5, lib/express.js), so the front routes hold however the app is served:
 * `app.listen`, `http.createServer(app)` or `lib/platform/http.ts#listen`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Express } from 'express';

export type FrontHandler = (req: IncomingMessage, res: ServerResponse) => void;

type Handle = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

/** `routes` maps `POST /path` to its handler; the query string is ignored when matching. */
export function frontRoutes(app: Express, routes: Record<string, FrontHandler>): Express {
  const target = app as unknown as { handle: Handle };
  const express = target.handle.bind(app);
  target.handle = (req, res, next) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const route = routes[`${req.method} ${q === -1 ? url : url.slice(0, q)}`];
    if (route) route(req, res);
    else express(req, res, next);
  };
  return app;
}
