/**
 * The durable delivery store (PostgreSQL). Instead of a chain of Kafka retry topics, each (message,
 * endpoint) pair is a row with its own due time: a failing endpoint's backlog waits in its own rows and
 * never holds back another endpoint, delays of hours cost nothing, and the same rows are the delivery log
 * and the replay source. Dispatchers claim due rows with a lease (FOR UPDATE SKIP LOCKED), so several
 * instances share the work and a crashed instance's claims become due again when the lease runs out; one
 * claim statement serves every endpoint of a dispatch round.
 */
import type { PoolClient } from 'pg';
import { named } from '../../../platform/db';
import type { WebhookMessage } from '../../../core/webhooks/messages';
import type { Endpoint } from './endpoints';
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
    named(
      'webhooks.enqueue-messages',
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
    ),
  );
  const pairs = withTargets.flatMap((i) => i.endpointIds.map((e) => [e, i.message.id] as const));
  const r = await c.query(
    named(
      'webhooks.enqueue-deliveries',
      `INSERT INTO webhook_deliveries (endpoint_id, message_id, status, next_attempt_at, created_at)
     SELECT e, m, 'pending', $3::bigint, $3::bigint FROM unnest($1::text[], $2::text[]) AS t(e, m)
     ON CONFLICT (endpoint_id, message_id) DO NOTHING`,
      [pairs.map((p) => p[0]), pairs.map((p) => p[1]), now],
    ),
  );
  return r.rowCount ?? 0;
}

/** What an attempt needs of its endpoint, read with the claim (so URL, secrets and timeout are current). */
export interface Target {
  id: string;
  url: string;
  timeoutMs: number;
  /** The ceiling of the endpoint's adaptive concurrency. */
  maxConcurrency: number;
  secrets: Endpoint['secrets'];
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
  endpoint: Target;
}

export interface ClaimRequest {
  now: number;
  /** How many each endpoint may start now; an endpoint not listed gets `otherwise`. */
  free: Map<string, number>;
  otherwise: number;
  /** All endpoints together (the process's free slots). */
  total: number;
  /** The lease runs until now + the endpoint's timeout + this. */
  leaseMarginMs: number;
}

interface ClaimRow {
  id: string;
  endpoint_id: string;
  message_id: string;
  attempts: number;
  created_at: string;
  body: string;
  type: string;
  subscription_key: string;
  url: string;
  timeout_ms: number;
  max_concurrency: number;
  secrets: Endpoint['secrets'];
}

/**
 * One dispatch round's claim, for every enabled endpoint at once: up to its free slots of its due
 * deliveries (oldest first; never above its max_concurrency), at most `total` in all (oldest first across
 * endpoints), leased until its timeout plus the margin: if this process dies mid-attempt they become due
 * again then (at-least-once; the webhook-id lets the receiver dedupe). FOR UPDATE SKIP LOCKED lets several
 * instances claim side by side. One statement, whatever the number of endpoints.
 */
export async function claimDue(db: Db, q: ClaimRequest): Promise<ClaimedDelivery[]> {
  if (q.total <= 0) return [];
  const r = await db.query<ClaimRow>(
    named(
      'webhooks.claim-due',
      `WITH lim AS (SELECT * FROM unnest($2::text[], $3::int[]) AS l(endpoint_id, n)),
     due AS (
       SELECT d.id, d.next_attempt_at, e.timeout_ms FROM webhook_endpoints e
       LEFT JOIN lim ON lim.endpoint_id = e.id
       CROSS JOIN LATERAL (
         SELECT w.id, w.next_attempt_at FROM webhook_deliveries w
         WHERE w.endpoint_id = e.id AND w.status = 'pending' AND w.next_attempt_at <= $1
         ORDER BY w.next_attempt_at, w.id
         LIMIT LEAST(COALESCE(lim.n, $4), e.max_concurrency)
         FOR UPDATE OF w SKIP LOCKED
       ) d
       WHERE e.enabled
       ORDER BY d.next_attempt_at, d.id LIMIT $5
     ), leased AS (
       UPDATE webhook_deliveries w SET next_attempt_at = $1 + due.timeout_ms + $6, attempts = w.attempts + 1
       FROM due WHERE w.id = due.id
       RETURNING w.id, w.endpoint_id, w.message_id, w.attempts, w.created_at
     )
     SELECT l.*, m.body, m.type, m.subscription_key, e.url, e.timeout_ms, e.max_concurrency, e.secrets
     FROM leased l JOIN webhook_messages m ON m.id = l.message_id JOIN webhook_endpoints e ON e.id = l.endpoint_id
     ORDER BY l.id`,
      [q.now, [...q.free.keys()], [...q.free.values()], q.otherwise, q.total, q.leaseMarginMs],
    ),
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
    endpoint: {
      id: x.endpoint_id,
      url: x.url,
      timeoutMs: x.timeout_ms,
      maxConcurrency: x.max_concurrency,
      secrets: x.secrets,
    },
  }));
}

/** After a failed attempt: due again at `nextAttemptAt`, or failed for good (successes: recordSuccesses). */
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
