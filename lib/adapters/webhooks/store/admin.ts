/** What the admin API reads and replays: deliveries with their messages and attempt logs. */
import type { AttemptRecord } from './attempts';
import { num, type Db } from './rows';

export interface DeliveryView {
  id: string;
  endpointId: string;
  messageId: string;
  type: string;
  subscriptionKey: string;
  status: string;
  attempts: number;
  nextAttemptAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  completedAt: number | null;
}

const DELIVERY_SELECT = `SELECT d.id, d.endpoint_id, d.message_id, m.type, m.subscription_key, d.status, d.attempts,
  d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.completed_at
  FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id`;

function deliveryOf(r: Record<string, unknown>): DeliveryView {
  return {
    id: String(r.id),
    endpointId: r.endpoint_id as string,
    messageId: r.message_id as string,
    type: r.type as string,
    subscriptionKey: r.subscription_key as string,
    status: r.status as string,
    attempts: r.attempts as number,
    nextAttemptAt: r.status === 'pending' ? Number(r.next_attempt_at) : null,
    lastStatus: (r.last_status as number | null) ?? null,
    lastError: (r.last_error as string | null) ?? null,
    createdAt: Number(r.created_at),
    completedAt: num(r.completed_at as string | null),
  };
}

export async function listDeliveries(
  db: Db,
  q: {
    endpointId: string;
    status?: string | undefined;
    since?: number | undefined;
    limit: number;
    before?: string | undefined;
  },
): Promise<DeliveryView[]> {
  const r = await db.query(
    `${DELIVERY_SELECT} WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2)
       AND ($3::bigint IS NULL OR d.created_at >= $3) AND ($5::bigint IS NULL OR d.id < $5)
     ORDER BY d.id DESC LIMIT $4`,
    [q.endpointId, q.status ?? null, q.since ?? null, q.limit, q.before ?? null],
  );
  return r.rows.map(deliveryOf);
}

export async function getDelivery(
  db: Db,
  id: string,
): Promise<(DeliveryView & { attemptLog: AttemptRecord[] }) | undefined> {
  const r = await db.query(`${DELIVERY_SELECT} WHERE d.id = $1`, [id]);
  if (!r.rows[0]) return undefined;
  const attempts = await db.query(
    `SELECT attempt, attempted_at, latency_ms, status_code, outcome, error, response FROM webhook_attempts
     WHERE delivery_id = $1 ORDER BY id`,
    [id],
  );
  return {
    ...deliveryOf(r.rows[0]),
    attemptLog: attempts.rows.map((a) => ({
      deliveryId: id,
      attempt: a.attempt,
      at: Number(a.attempted_at),
      latencyMs: a.latency_ms,
      statusCode: a.status_code,
      outcome: a.outcome,
      error: a.error,
      response: a.response,
    })),
  };
}

/**
 * Puts completed deliveries back in the queue, due now, with a fresh retry schedule. The message (and so
 * the webhook-id and body) is unchanged. Returns the ids replayed.
 */
export async function replay(
  db: Db,
  q: { deliveryId: string } | { endpointId: string; since: number; status: 'failed' | 'succeeded' | 'any' },
  now: number,
): Promise<string[]> {
  const r =
    'deliveryId' in q
      ? await db.query<{ id: string }>(
          `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $2, completed_at = NULL
           WHERE id = $1 AND status <> 'pending' RETURNING id`,
          [q.deliveryId, now],
        )
      : await db.query<{ id: string }>(
          `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $3, completed_at = NULL
           WHERE endpoint_id = $1 AND status <> 'pending' AND ($4 = 'any' OR status = $4) AND created_at >= $2
           RETURNING id`,
          [q.endpointId, q.since, now, q.status],
        );
  return r.rows.map((x) => String(x.id));
}
