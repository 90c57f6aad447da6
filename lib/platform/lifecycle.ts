/** Process lifecycle shared by every service's main.ts: start-up failures, SIGTERM/SIGINT, readiness. */
import type { Consumer } from 'kafkajs';
import type { Pool } from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Readiness } from './consumerGuard';
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

/**
 * Whether the consumer is in its group (for /readyz): true after a join, false after a crash or stop.
 * With a metrics registry, also records per fetched batch (kafkajs END_BATCH_PROCESS): consumer lag per
 * partition (high watermark minus the batch's last offset), records consumed, and batch processing time.
 */
export function trackJoined(consumer: Consumer, metrics?: Registry): () => boolean {
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
  consumer.on(consumer.events.CRASH, () => (joined = false));
  consumer.on(consumer.events.STOP, () => (joined = false));
  if (metrics) {
    const registers = [metrics];
    const lag = new Gauge({
      name: 'storeline_consumer_lag',
      help: 'Records behind the high watermark after the last processed batch, per topic and partition',
      labelNames: ['topic', 'partition'],
      registers,
    });
    const consumed = new Counter({
      name: 'storeline_consumer_records_total',
      help: 'Records fetched and processed, per topic',
      labelNames: ['topic'],
      registers,
    });
    const duration = new Histogram({
      name: 'storeline_consumer_batch_duration_seconds',
      help: 'Time to process one fetched batch, per topic',
      labelNames: ['topic'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      lag.set({ topic: payload.topic, partition: String(payload.partition) }, Number(payload.offsetLag));
      consumed.inc({ topic: payload.topic }, payload.batchSize);
      duration.observe({ topic: payload.topic }, payload.duration / 1000);
    });
  }
  return () => joined;
}

/**
 * /readyz of a consumer service: what its ConsumerGuard says (in its group, not paused for a dependency,
 * no stalled partition), and the schema registry (and the database, when it has one) answer now.
 */
export function consumerReady(opts: {
  guard: { readiness(): Promise<Readiness> };
  registryUrl: string;
  pool?: Pool | undefined;
}): () => Promise<Readiness> {
  return async () => {
    const { reasons } = await opts.guard.readiness();
    const registry = fetch(`${opts.registryUrl}/subjects`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    const db = opts.pool
      ? opts.pool.query('SELECT 1').then(
          () => true,
          () => false,
        )
      : Promise.resolve(true);
    const [registryOk, dbOk] = await Promise.all([registry, db]);
    if (!registryOk) reasons.push('schema registry does not answer');
    if (!dbOk) reasons.push('database does not answer');
    return { ready: reasons.length === 0, reasons };
  };
}
