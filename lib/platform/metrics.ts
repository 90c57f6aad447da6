/** Prometheus: the registry every service exposes on /metrics, and the metrics both receivers share. */
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
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

/**
 * The metric `name` of `registry`, made once: several components (or instances of one) in a process share a
 * registry, and prom-client refuses a second registration under the same name.
 */
export function sharedMetric<T>(
  registry: Registry | undefined,
  name: string,
  make: (registers: Registry[]) => T,
): T {
  const existing = registry?.getSingleMetric(name);
  return (existing as T | undefined) ?? make(registry ? [registry] : []);
}
