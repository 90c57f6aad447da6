/** Process lifecycle shared by every service's main.ts: start-up failures, SIGTERM/SIGINT, readiness. */
import type { Consumer } from 'kafkajs';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from './logger';

/** Runs `main`; a start-up failure is printed with its stack and exits 1 (never swallowed). */
export function runMain(service: string, main: () => Promise<void>): void {
  main().catch((err) => {
    process.stderr.write(`${service}: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}

/**
 * Calls `shutdown` once on SIGTERM or SIGINT, then exits 0 (1 if shutdown threw). The listeners stay
 * installed: a second signal (process group plus supervisor, a second Ctrl-C) must not fall through to the
 * default action and kill the process in the middle of its graceful shutdown.
 */
export function onShutdownSignal(logger: Logger, shutdown: () => Promise<void>): void {
  let started = false;
  const handle = (signal: string) => {
    if (started) return;
    started = true;
    logger.info({ signal }, 'shutting down');
    shutdown().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => handle('SIGTERM'));
  process.on('SIGINT', () => handle('SIGINT'));
}

/** Whether the consumer is in its group (for /readyz): true after a join, false after a crash or stop. */
export function trackJoined(consumer: Consumer): () => boolean {
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
  consumer.on(consumer.events.CRASH, () => (joined = false));
  consumer.on(consumer.events.STOP, () => (joined = false));
  return () => joined;
}

/** Metrics both receivers expose, under the same names so dashboards work across stores. */
export function receiverMetrics(registry: Registry) {
  return {
    requests: new Counter({
      name: 'storeline_receiver_requests_total',
      help: 'Notification requests by route and HTTP status',
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'storeline_receiver_verification_failures_total',
      help: 'Rejected notifications by failed check',
      labelNames: ['route', 'check'],
      registers: [registry],
    }),
  };
}
