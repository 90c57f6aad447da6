/**
 * The one service runner. Every deployable's main.ts is a spec (name, config schema, start) and this does
 * the rest the same way for all: the config parsed once (exit 2 naming every problem), the logger, the
 * metrics registry, /healthz, /readyz and /metrics on the HTTP app, listen, the start-up log line, and on
 * SIGTERM or SIGINT the shutdown steps in order (exit 0, or 1 when a step threw). A failed start exits 1.
 */
import type { Express } from 'express';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import type { Readiness } from './consumerGuard';
import { closeServer, express, listen, mountOps } from './http';
import { createMetricsRegistry } from './metrics';
import { onShutdownSignal, runMain } from './lifecycle';
import { createLogger, type Logger } from './logger';
import { loadConfigOrExit } from './config';

/** A shutdown step; `'server'` stops the HTTP server (open requests get `closeGraceMs`). */
type ShutdownStep = 'server' | (() => Promise<unknown> | unknown);

export interface Started {
  /** The service's HTTP app; without one, an app with only the ops routes. */
  app?: Express;
  /** What /readyz answers; without it no ops routes are mounted (the local fake only). */
  ready?: () => Promise<boolean | Readiness> | boolean | Readiness;
  port: number;
  host?: string | undefined;
  /** Logged once listening: fields, message. */
  listening: [object, string];
  shutdown: ShutdownStep[];
  closeGraceMs?: number;
}

export interface ServiceSpec<S extends z.ZodType<{ LOG_LEVEL: string }>> {
  name: string;
  config: S;
  start(ctx: { config: z.output<S>; logger: Logger; metrics: Registry }): Promise<Started>;
}

export function runService<S extends z.ZodType<{ LOG_LEVEL: string }>>(spec: ServiceSpec<S>): void {
  runMain(spec.name, async () => {
    const config = loadConfigOrExit(spec.name, spec.config);
    const logger = createLogger(spec.name, config.LOG_LEVEL);
    const metrics = createMetricsRegistry(spec.name);
    const started = await spec.start({ config, logger, metrics });
    const app = started.app ?? express();
    if (started.ready) mountOps(app, { metrics, ready: started.ready });
    const server = await listen(app, started.port, started.host);
    logger.info(...started.listening);
    onShutdownSignal(logger, async () => {
      for (const step of started.shutdown) {
        await (step === 'server' ? closeServer(server, started.closeGraceMs) : step());
      }
    });
  });
}
