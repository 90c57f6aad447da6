/** What every console route group shares: dependencies, the signed-in viewer, audit logging, async errors. */
import type { NextFunction, Request, Response } from 'express';
import type { Kafka } from 'kafkajs';
import { canAct, type Session } from '../../lib/core/console/auth';
import type { Html } from '../../lib/core/console/html';
import { messagePage, type Viewer } from '../../lib/core/console/layout';
import type { EngagementTrigger, SubscriptionEvent } from '../../lib/core/generated/avro';
import type { TopicNames } from '../../lib/core/topics';
import type { ConsolePools } from '../../lib/adapters/console/queries';
import type { DlqCounts, LiveStream } from '../../lib/adapters/console/kafka';
import type { EndpointManager } from '../../lib/adapters/webhooks/endpoints';
import type { AvroCodec } from '../../lib/platform/avro';
import type { Logger } from '../../lib/platform/logger';

export interface ConsoleDeps {
  pools: ConsolePools;
  kafka: Kafka;
  names: TopicNames;
  manager: EndpointManager;
  live: LiveStream;
  dlqCounts: DlqCounts;
  eventCodec: AvroCodec<SubscriptionEvent>;
  triggerCodec: AvroCodec<EngagementTrigger>;
  lagGroups: string[];
  logger: Logger;
  now?: () => number;
}

export interface Ctx {
  deps: ConsoleDeps;
  now: () => number;
}

export type Handler = (req: Request, res: Response) => Promise<unknown>;

/** An async handler whose rejection reaches the error handler (express 5 does this too; explicit here). */
export const route =
  (h: Handler) =>
  (req: Request, res: Response, next: NextFunction): Promise<unknown> =>
    h(req, res).catch(next);

export function sessionOf(res: Response): Session {
  return res.locals.session as Session;
}

export function viewerOf(res: Response): Viewer {
  const s = sessionOf(res);
  return { operator: s.operator, role: s.role, csrf: s.csrf };
}

/** The flash message set by the previous action, once. */
export function takeFlash(res: Response): string | undefined {
  const s = sessionOf(res);
  const f = s.flash;
  s.flash = undefined;
  return f;
}

export function send(res: Response, page: Html, status = 200): void {
  res.status(status).type('html').send(page.text);
}

/** Every action, allowed or refused, with who did it; never a key or a secret. */
export function audit(ctx: Ctx, res: Response, action: string, details: Record<string, unknown> = {}): void {
  const s = res.locals.session as Session | undefined;
  ctx.deps.logger.info(
    { operator: s?.operator ?? null, role: s?.role ?? null, action, ...details },
    'console action',
  );
}

/** Admin-only routes: 403 (and logged) for a read-only operator. */
export function requireAdmin(ctx: Ctx) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (canAct(sessionOf(res).role)) return next();
    audit(ctx, res, 'refused', { method: req.method, path: req.path, why: 'needs the admin role' });
    send(res, messagePage(viewerOf(res), 'Forbidden', 'This action needs the admin role.'), 403);
  };
}
