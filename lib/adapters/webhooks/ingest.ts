/**
 * The fan-out's ingest: each fetched batch of canonical events (and engagement triggers, when enabled)
 * becomes one message per record and one delivery per matching endpoint, written in one transaction before
 * the offsets are committed, so a crash re-reads and the unique (endpoint, message) pair makes that harmless.
 */
import type { Pool, PoolClient } from 'pg';
import type { AvroCodec } from '../../platform/avro';
import type { CanonicalBatch } from '../../platform/canonicalConsumer';
import { inTransaction } from '../../platform/db';
import type { Logger } from '../../platform/logger';
import type { EngagementTrigger, SubscriptionEvent } from '../../core/generated/avro';
import type { TopicNames } from '../../core/topics';
import {
  fromEvent,
  fromTrigger,
  matches,
  supersededMessageIds,
  type WebhookMessage,
} from '../../core/webhooks/messages';
import type { FanoutMetrics } from './metrics';
import { enqueue } from './store/deliveries';
import { listEndpoints } from './store/endpoints';

export interface FanoutIngestDeps {
  pool: Pool;
  eventCodec: AvroCodec<SubscriptionEvent>;
  triggerCodec?: AvroCodec<EngagementTrigger> | undefined;
  names: TopicNames;
  logger: Logger;
  now: () => number;
  metrics: FanoutMetrics;
  /** Called when a batch created deliveries: the dispatcher has work. */
  onCreated: () => void;
}

export function createFanoutIngest(deps: FanoutIngestDeps) {
  const triggersTopic = deps.names.name('engagementTriggers');

  /** Each message with the earlier revisions' message ids it corrects (empty for everything but corrections). */
  async function toMessages(
    batch: CanonicalBatch,
  ): Promise<{ message: WebhookMessage; supersedes: string[] }[]> {
    if (batch.topic === triggersTopic && deps.triggerCodec) {
      const { events } = await batch.decode(
        deps.triggerCodec,
        deps.names.dlqOf('engagementTriggers') as string,
      );
      return events.map((t) => ({ message: fromTrigger(t), supersedes: [] }));
    }
    const { events } = await batch.decode(deps.eventCodec, deps.names.dlqOf('subscriptionEvents') as string);
    return events.map((e) => ({ message: fromEvent(e), supersedes: supersededMessageIds(e) }));
  }

  /** Messages of one fetched batch and their deliveries, in one transaction (idempotent on redelivery). */
  return async function record(batch: CanonicalBatch): Promise<void> {
    const messages = await toMessages(batch);
    deps.metrics.consumed.inc({ topic: batch.topic }, batch.messages.length);
    const endpoints = await listEndpoints(deps.pool);
    const created = await inTransaction(deps.pool, async (c) => {
      const earlier = await earlierRecipients(
        c,
        endpoints.map((e) => e.id),
        messages.flatMap((m) => m.supersedes),
      );
      return enqueue(
        c,
        messages.map(({ message, supersedes }) => ({
          message,
          endpointIds: endpoints
            .filter((e) => matches(e, message) || supersedes.some((id) => earlier.get(id)?.has(e.id)))
            .map((e) => e.id),
        })),
        deps.now(),
      );
    });
    deps.metrics.enqueued.inc(created);
    if (created > 0) deps.onCreated();
  };
}

/**
 * Endpoints that were sent an earlier revision of a corrected event, by message id: a correction goes to them
 * even when the corrected type no longer matches their filter (they hold the wrong event and must hear of
 * the fix), and to every endpoint the corrected event matches (docs/webhooks.md#corrections).
 */
async function earlierRecipients(
  c: PoolClient,
  endpointIds: string[],
  messageIds: string[],
): Promise<Map<string, Set<string>>> {
  const byMessage = new Map<string, Set<string>>();
  if (messageIds.length === 0 || endpointIds.length === 0) return byMessage;
  // Both columns, so the (endpoint_id, message_id) unique index answers it.
  const r = await c.query<{ message_id: string; endpoint_id: string }>(
    'SELECT message_id, endpoint_id FROM webhook_deliveries WHERE endpoint_id = ANY($1) AND message_id = ANY($2)',
    [endpointIds, messageIds],
  );
  for (const row of r.rows) {
    const set = byMessage.get(row.message_id) ?? new Set<string>();
    set.add(row.endpoint_id);
    byMessage.set(row.message_id, set);
  }
  return byMessage;
}
