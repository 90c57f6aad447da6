/** The live stream's filters: each a comma-separated list of exact values (case-insensitive); empty = all. */
import type { SubscriptionEvent } from '../generated/avro';

export interface StreamFilters {
  type: string;
  store: string;
  environment: string;
  appId: string;
}

export function filtersOf(q: Record<string, unknown>): StreamFilters {
  const one = (k: string): string => (typeof q[k] === 'string' ? (q[k] as string).slice(0, 500) : '');
  return { type: one('type'), store: one('store'), environment: one('environment'), appId: one('appId') };
}

function allows(filter: string, value: string): boolean {
  const wanted = filter
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  return wanted.length === 0 || wanted.includes(value.toLowerCase());
}

export function matches(f: StreamFilters, e: SubscriptionEvent): boolean {
  return (
    allows(f.type, e.type) &&
    allows(f.store, e.store) &&
    allows(f.environment, e.environment) &&
    allows(f.appId, e.appId)
  );
}

/** What the stream page shows of an event (the subscriber page has the rest). */
export function streamItem(e: SubscriptionEvent) {
  return {
    eventId: e.eventId,
    receivedAt: e.receivedAt,
    type: e.type,
    store: e.store,
    environment: e.environment,
    appId: e.appId,
    subscriptionKey: e.subscriptionKey,
    status: e.status,
  };
}
