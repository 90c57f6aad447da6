/**
 * What the console reads from PostgreSQL, each from the schema of the service that owns it: the state
 * aggregator's subscription_state / subscription_events, the trigger outbox, the webhook delivery store, the
 * normalizer's Play outcomes.
 * Read-only; the webhook actions go through the fan-out's own store functions (see the console app).
 */
import type { Pool } from 'pg';
import { parsePush } from '../../core/play/envelope';
import type { SubscriptionPurchaseV2 } from '../../core/play/model';
import { plansOf } from '../../core/play/plans';
import { outcomeIdOf } from '../../core/play/processor';
import { PgPlayRepo } from '../play/repo';
import type { SubscriptionEvent, SubscriptionState } from '../../core/generated/avro';
import type { FoldState } from '../../core/state/fold';
import type { DeliveryView } from '../webhooks/store/admin';

export interface ConsolePools {
  state: Pool;
  triggers: Pool;
  webhooks: Pool;
  /** The normalizer's schema: Play outcomes with the API answers they were computed from. */
  play: Pool;
}

/**
 * Subscriptions matching what an operator typed: a subscriptionKey, an appUserId, an App Store original
 * transaction id (key `app_store:<id>`) or a Play purchase token (key `play_store:<token>`: the root token
 * of the purchase chain, which is the one the key holds).
 */
export async function searchSubscriptions(pool: Pool, q: string, limit = 50): Promise<SubscriptionState[]> {
  const r = await pool.query<{ fold: FoldState }>(
    `SELECT fold FROM subscription_state
     WHERE subscription_key = ANY($1) OR app_user_id = $2
     ORDER BY updated_at DESC LIMIT $3`,
    [[q, `app_store:${q}`, `play_store:${q}`], q, limit],
  );
  return r.rows.map((x) => x.fold.state);
}

/** Every applied event of a subscription, oldest first (store time, then eventId), at most `limit`. */
export async function timeline(pool: Pool, key: string, limit = 500): Promise<SubscriptionEvent[]> {
  const r = await pool.query<{ event: SubscriptionEvent }>(
    `SELECT event FROM (SELECT event, occurred_at, event_id FROM subscription_events WHERE subscription_key = $1
       ORDER BY occurred_at DESC, event_id DESC LIMIT $2) t ORDER BY occurred_at, event_id`,
    [key, limit],
  );
  return r.rows.map((x) => x.event);
}

export interface TriggerRow {
  triggerId: string;
  kind: string;
  dueAt: number;
  status: string;
  sentAt: number | null;
}

export async function triggersOf(pool: Pool, key: string): Promise<TriggerRow[]> {
  const r = await pool.query<{
    trigger_id: string;
    kind: string;
    due_at: string;
    status: string;
    sent_at: string | null;
  }>(
    `SELECT trigger_id, kind, due_at, status, sent_at FROM trigger_outbox WHERE subscription_key = $1
     ORDER BY due_at, trigger_id LIMIT 200`,
    [key],
  );
  return r.rows.map((x) => ({
    triggerId: x.trigger_id,
    kind: x.kind,
    dueAt: Number(x.due_at),
    status: x.status,
    sentAt: x.sent_at === null ? null : Number(x.sent_at),
  }));
}

/** Webhook deliveries of a subscription's messages, newest first. */
export async function deliveriesOf(pool: Pool, key: string): Promise<DeliveryView[]> {
  const r = await pool.query(
    `SELECT d.id, d.endpoint_id, d.message_id, m.type, m.subscription_key, d.status, d.attempts, d.last_status,
       d.last_error, d.created_at, d.completed_at, d.next_attempt_at
     FROM webhook_messages m JOIN webhook_deliveries d ON d.message_id = m.id
     WHERE m.subscription_key = $1 ORDER BY d.id DESC LIMIT 200`,
    [key],
  );
  return r.rows.map((x) => ({
    id: String(x.id),
    endpointId: x.endpoint_id,
    messageId: x.message_id,
    type: x.type,
    subscriptionKey: x.subscription_key,
    status: x.status,
    attempts: x.attempts,
    nextAttemptAt: x.status === 'pending' ? Number(x.next_attempt_at) : null,
    lastStatus: x.last_status ?? null,
    lastError: x.last_error ?? null,
    createdAt: Number(x.created_at),
    completedAt: x.completed_at === null ? null : Number(x.completed_at),
  }));
}

const MINUTE = 60_000;
const DAY = 86_400_000;

/** Events applied per minute and type over the last hour (applied_at: when Storeline saw them). */
export async function eventsPerMinute(pool: Pool, now: number) {
  const r = await pool.query<{ bucket: string; key: string; n: number }>(
    `SELECT (floor(extract(epoch FROM applied_at) * 1000 / $2) * $2)::bigint AS bucket, type AS key, count(*)::int AS n
     FROM subscription_events WHERE applied_at >= to_timestamp($1 / 1000.0) GROUP BY 1, 2`,
    [now - 60 * MINUTE, MINUTE],
  );
  return r.rows.map((x) => ({ bucket: Number(x.bucket), key: x.key, n: x.n }));
}

/** New, renewed, expired and refunded per day of store time over the last 30 days. */
export async function lifecyclePerDay(pool: Pool, now: number) {
  const r = await pool.query<{ bucket: string; key: string; n: number }>(
    `SELECT (floor(occurred_at / $2::numeric) * $2)::bigint AS bucket, type AS key, count(*)::int AS n
     FROM subscription_events
     WHERE occurred_at >= $1 AND type IN ('SUBSCRIPTION_STARTED', 'RENEWED', 'EXPIRED', 'REFUNDED') GROUP BY 1, 2`,
    [now - 30 * DAY, DAY],
  );
  return r.rows.map((x) => ({ bucket: Number(x.bucket), key: x.key, n: x.n }));
}

/** Subscriptions by status and store (app-level notice keys left out: they are not subscriptions). */
export async function subscriptionsByStatus(pool: Pool) {
  const r = await pool.query<{ x: string; series: string; n: number }>(
    `SELECT fold->'state'->>'status' AS x, fold->'state'->>'store' AS series, count(*)::int AS n
     FROM subscription_state WHERE subscription_key NOT LIKE '%:app:%' GROUP BY 1, 2`,
  );
  return r.rows;
}

export interface EndpointHealth {
  endpointId: string;
  attempts: number;
  successes: number;
  avgLatencyMs: number;
  p95LatencyMs: number;
}

/** Per endpoint over the last 24 hours: attempts, successes and latency. */
export async function webhookHealth(pool: Pool, now: number): Promise<EndpointHealth[]> {
  const r = await pool.query<{
    endpoint_id: string;
    attempts: number;
    successes: number;
    avg: number;
    p95: number;
  }>(
    `SELECT d.endpoint_id, count(*)::int AS attempts, count(*) FILTER (WHERE a.outcome = 'success')::int AS successes,
       coalesce(avg(a.latency_ms), 0)::float AS avg,
       coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY a.latency_ms), 0)::float AS p95
     FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
     WHERE a.attempted_at >= $1 GROUP BY 1 ORDER BY 1`,
    [now - DAY],
  );
  return r.rows.map((x) => ({
    endpointId: x.endpoint_id,
    attempts: x.attempts,
    successes: x.successes,
    avgLatencyMs: Math.round(x.avg),
    p95LatencyMs: Math.round(x.p95),
  }));
}

/**
 * What the normalizer read from the Play Developer API for a raw Play record (stored with its outcome, see
 * lib/core/play/ports.ts StoredDiffInput), or why there is nothing to show. Read-only; no API call.
 */
export async function playResourceOf(pool: Pool, value: Buffer | null): Promise<string> {
  let push: ReturnType<typeof parsePush>;
  try {
    push = parsePush(value);
  } catch {
    return 'The record is not a Pub/Sub push the normalizer can read.';
  }
  const repo = new PgPlayRepo(pool);
  const stored =
    (await repo.storedInputs(push.messageId)) ??
    (await repo.storedInputs(outcomeIdOf(push.notification, push.messageId)));
  if (!stored) return 'No outcome stored for this message (not normalized yet, or dead-lettered).';
  if (!stored.inputs) return 'Normalized before the API answers were stored with outcomes.';
  const { subscription, product } = stored.inputs;
  return JSON.stringify({ subscriptionsv2: subscription ?? null, productPurchase: product ?? null }, null, 2);
}

/**
 * The base plan(s) a Play subscription is on now, from the normalizer's latest snapshot of its token chain
 * (the state keeps products only); null for other stores, or when no snapshot names one.
 */
export async function playBasePlanOf(pool: Pool, subscriptionKey: string): Promise<string | null> {
  const root = /^play_store:(?!app:)(.+)$/.exec(subscriptionKey)?.[1];
  if (!root) return null;
  const r = await pool.query<{ resource: SubscriptionPurchaseV2 }>(
    `SELECT resource FROM play_snapshots WHERE root_token = $1
     ORDER BY (replaced_by IS NULL) DESC, updated_at DESC LIMIT 1`,
    [root],
  );
  return r.rows[0] ? plansOf(r.rows[0].resource).basePlans : null;
}
