/**
 * What customers receive: one Standard Webhooks message per canonical event (and per engagement trigger
 * when enabled), `{"type", "timestamp", "data"}` with the record as `data`. Types are namespaced so event
 * and trigger vocabularies cannot collide: `subscription.<EventType>` and `trigger.<TriggerKind>`, with the
 * canonical symbols spelled exactly as in schemas/*.avsc. Pure.
 */
import {
  EVENT_TYPE_SYMBOLS,
  TRIGGER_KIND_SYMBOLS,
  type EngagementTrigger,
  type SubscriptionEvent,
} from '../generated/avro';

export interface WebhookMessage {
  /** eventId or triggerId: the webhook-id on every attempt and replay. */
  id: string;
  type: string;
  subscriptionKey: string;
  environment: string;
  appId: string;
  /** The exact body sent (and signed) on every attempt. */
  body: string;
}

export interface EndpointFilter {
  /** Webhook types, or `subscription.*` / `trigger.*`; null = every type. */
  eventTypes: string[] | null;
  /** PRODUCTION / SANDBOX; null = both. */
  environments: string[] | null;
  /** Apple bundleIds / Google packageNames; null = every app. */
  appIds: string[] | null;
}

const EVENT_PREFIX = 'subscription.';
const TRIGGER_PREFIX = 'trigger.';

const KNOWN_TYPES: readonly string[] = [
  ...EVENT_TYPE_SYMBOLS.map((t) => EVENT_PREFIX + t),
  ...TRIGGER_KIND_SYMBOLS.map((k) => TRIGGER_PREFIX + k),
];

/** Whether `pattern` is a valid filter entry: a known type or a namespace wildcard. */
export function isTypePattern(pattern: string): boolean {
  return pattern === `${EVENT_PREFIX}*` || pattern === `${TRIGGER_PREFIX}*` || KNOWN_TYPES.includes(pattern);
}

/**
 * The message id of an event revision: the eventId for revision 0 (what every webhook-id has been so far), and
 * `<eventId>#r<n>` for a correction, so a correction is a new message that receivers do not drop as a repeat.
 */
function messageIdOf(e: Pick<SubscriptionEvent, 'eventId' | 'revision'>): string {
  return e.revision > 0 ? `${e.eventId}#r${e.revision}` : e.eventId;
}

/** Message ids of every lower revision of a correction's eventId (none for an original). */
export function supersededMessageIds(e: Pick<SubscriptionEvent, 'eventId' | 'revision'>): string[] {
  return Array.from({ length: e.revision }, (_v, r) => messageIdOf({ eventId: e.eventId, revision: r }));
}

export function fromEvent(e: SubscriptionEvent): WebhookMessage {
  const type = EVENT_PREFIX + e.type;
  return {
    id: messageIdOf(e),
    type,
    subscriptionKey: e.subscriptionKey,
    environment: e.environment,
    appId: e.appId,
    body: JSON.stringify({ type, timestamp: new Date(e.occurredAt).toISOString(), data: e }),
  };
}

export function fromTrigger(t: EngagementTrigger): WebhookMessage {
  const type = TRIGGER_PREFIX + t.kind;
  return {
    id: t.triggerId,
    type,
    subscriptionKey: t.subscriptionKey,
    environment: t.environment,
    appId: t.appId,
    body: JSON.stringify({ type, timestamp: new Date(t.firedAt).toISOString(), data: t }),
  };
}

function typeMatches(patterns: string[], type: string): boolean {
  return patterns.some((p) => p === type || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))));
}

export function matches(
  filter: EndpointFilter,
  m: Pick<WebhookMessage, 'type' | 'environment' | 'appId'>,
): boolean {
  return (
    (filter.eventTypes === null || typeMatches(filter.eventTypes, m.type)) &&
    (filter.environments === null || filter.environments.includes(m.environment)) &&
    (filter.appIds === null || filter.appIds.includes(m.appId))
  );
}
