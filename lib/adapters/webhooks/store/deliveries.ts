/**
 * The durable delivery store (PostgreSQL). Instead of a chain of Kafka retry topics, each (message,
 * endpoint) pair is a row with its own due time: a failing endpoint's backlog waits in its own rows and
 * never holds back another endpoint, delays of hours cost nothing, and the same rows are the delivery log
 * and the replay source. Dispatchers claim due rows with a lease (FOR UPDATE SKIP LOCKED), so several
 * instances share the work and a crashed instance's claims become due again when the lease runs out.
 */
import type { PoolClient } from 'pg';
import type { WebhookMessage } from '../../../core/webhooks/messages';
import type { Db } from './rows';

/**
 * Records messages and their deliveries (one per matching endpoint, enabled or not: a disabled endpoint's
 * deliveries wait until it is enabled again, so disabling loses nothing). Idempotent: a redelivered
 * Kafka record adds nothing. Returns how many deliveries were new.
 */
export async function enqueue(
  c: PoolClient,
  items: { message: WebhookMessage; endpointIds: string[] }[],
  now: number,
): Promise<number> {
  const withTargets = items.filter((i) => i.endpointIds.length > 0);
  if (withTargets.length === 0) return 0;
  await c.query(
    `INSERT INTO webhook_messages (id, type, subscription_key, body, created_at)
     SELECT t.*, $5::bigint FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t
     ON CONFLICT (id) DO NOTHING`,
    [
      withTargets.map((i) => i.message.id),
      withTargets.map((i) => i.message.type),
      withTargets.map((i) => i.message.subscriptionKey),
      withTargets.map((i) => i.message.body),
      now,
    ],
  );
  const pairs = withTargets.flatMap((i) => i.endpointIds.map((e) => [e, i.message.id] as const));
  const r = await c.query(
    `INSERT INTO webhook_deliveries (endpoint_id, message_id, status, next_attempt_at, created_at)
     SELECT e, m, 'pending', $3::bigint, $3::bigint FROM unnest($1::text[], $2::text[]) AS t(e, m)
     ON CONFLICT (endpoint_id, message_id) DO NOTHING`,
    [pairs.map((p) => p[0]), pairs.map((p) => p[1]), now],
  );
  return r.rowCount ?? 0;
}

export interface ClaimedDelivery {
  id: string;
  endpointId: string;
  messageId: string;
  /** 1-based number of the attempt about to be made. */
  attempt: number;
  body: string;
  type: string;
  subscriptionKey: string;
  createdAt: number;
}

/**
 * Claims up to `limit` due deliveries of one endpoint, oldest first, leasing them until `leaseUntil`: if
 * this process dies mid-attempt, they become due again then (at-least-once; the webhook-id lets the
 * receiver dedupe).
 */
export async function claim(
  db: Db,
  endpointId: string,
  now: number,
  limit: number,
  leaseUntil: number,
): Promise<ClaimedDelivery[]> {
  if (limit <= 0) return [];
  const r = await db.query<{
    id: string;
    endpoint_id: string;
    message_id: string;
    attempts: number;
    body: string;
    type: string;
    subscription_key: string;
    created_at: string;
  }>(
    `WITH due AS (
       SELECT id FROM webhook_deliveries
       WHERE endpoint_id = $1 AND status = 'pending' AND next_attempt_at <= $2
       ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED
     ), leased AS (
       UPDATE webhook_deliveries d SET next_attempt_at = $4, attempts = d.attempts + 1
       FROM due WHERE d.id = due.id RETURNING d.id, d.endpoint_id, d.message_id, d.attempts, d.created_at
     )
     SELECT l.*, m.body, m.type, m.subscription_key FROM leased l JOIN webhook_messages m ON m.id = l.message_id
     ORDER BY l.id`,
    [endpointId, now, limit, leaseUntil],
  );
  return r.rows.map((x) => ({
    id: x.id,
    endpointId: x.endpoint_id,
    messageId: x.message_id,
    attempt: x.attempts,
    body: x.body,
    type: x.type,
    subscriptionKey: x.subscription_key,
    createdAt: Number(x.created_at),
  }));
}

/** After a failed attempt: due again at `nextAttemptAt`, or failed for good (successes: recordSuccess). */
export async function completeDelivery(
  c: PoolClient,
  id: string,
  next: { status: 'failed'; at: number } | { status: 'pending'; nextAttemptAt: number },
  last: { statusCode: number | null; error: string | null },
): Promise<void> {
  if (next.status === 'pending') {
    await c.query(
      `UPDATE webhook_deliveries SET next_attempt_at = $2, last_status = $3, last_error = $4 WHERE id = $1`,
      [id, next.nextAttemptAt, last.statusCode, last.error],
    );
  } else {
    await c.query(
      `UPDATE webhook_deliveries SET status = $2, completed_at = $3, last_status = $4, last_error = $5 WHERE id = $1`,
      [id, next.status, next.at, last.statusCode, last.error],
    );
  }
}
