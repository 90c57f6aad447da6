/** The fan-out's metrics, registered once and shared by its ingest and its dispatcher. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type FanoutMetrics = ReturnType<typeof fanoutMetrics>;

export function fanoutMetrics(registry: Registry | undefined) {
  const registers = registry ? [registry] : [];
  return {
    consumed: new Counter({
      name: 'storeline_webhook_records_consumed_total',
      help: 'Canonical records read by the fan-out',
      labelNames: ['topic'],
      registers,
    }),
    enqueued: new Counter({
      name: 'storeline_webhook_deliveries_created_total',
      help: 'Deliveries created (one per message and matching endpoint)',
      registers,
    }),
    attempts: new Counter({
      name: 'storeline_webhook_attempts_total',
      help: 'Delivery attempts by outcome (success, retry, exhausted, rejected, gone, refused)',
      labelNames: ['outcome'],
      registers,
    }),
    latency: new Histogram({
      name: 'storeline_webhook_attempt_duration_seconds',
      help: 'Time from request start to the end of the response, per attempt',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
      registers,
    }),
    deliveryLag: new Histogram({
      name: 'storeline_webhook_delivery_lag_seconds',
      help: 'From the message entering the store to its successful delivery',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600, 86_400],
      registers,
    }),
    disabled: new Counter({
      name: 'storeline_webhook_endpoints_disabled_total',
      help: 'Endpoints disabled by the fan-out (gone: answered 410; failing: failed for the configured span)',
      labelNames: ['reason'],
      registers,
    }),
    dlq: new Counter({
      name: 'storeline_webhook_dlq_total',
      help: 'Deliveries that failed for good and went to the webhooks DLQ',
      labelNames: ['outcome'],
      registers,
    }),
    inFlight: new Gauge({ name: 'storeline_webhook_in_flight', help: 'Attempts in flight', registers }),
    concurrency: new Gauge({
      name: 'storeline_webhook_endpoint_concurrency',
      help: 'Adaptive concurrency limit per endpoint (attempts it may have in flight), after its last attempt',
      labelNames: ['endpoint'],
      registers,
    }),
    rounds: new Counter({
      name: 'storeline_webhook_dispatch_rounds_total',
      help: 'Dispatch rounds (one claim statement each, for every endpoint)',
      registers,
    }),
  };
}
