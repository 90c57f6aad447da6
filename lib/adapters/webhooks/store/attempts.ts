/** webhook_attempts: the log of every attempt; successes also complete their deliveries and heal their endpoints. */
import type { PoolClient } from 'pg';
import { named } from '../../../platform/db';
import type { Db } from './rows';

export interface AttemptRecord {
  deliveryId: string;
  attempt: number;
  at: number;
  latencyMs: number;
  statusCode: number | null;
  outcome: string;
  error: string | null;
  response: string | null;
}

export async function recordAttempt(c: PoolClient, a: AttemptRecord): Promise<void> {
  await c.query(
    `INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, latency_ms, status_code, outcome, error, response)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [a.deliveryId, a.attempt, a.at, a.latencyMs, a.statusCode, a.outcome, a.error, a.response],
  );
}

/**
 * The hot path: successful attempts recorded, their deliveries completed and their endpoints marked
 * healthy, in one statement for the whole group (atomic, one round trip however many attempts).
 */
export async function recordSuccesses(
  db: Db,
  successes: { attempt: AttemptRecord; endpointId: string }[],
): Promise<void> {
  if (successes.length === 0) return;
  const col = <T>(f: (x: { attempt: AttemptRecord; endpointId: string }) => T): T[] => successes.map(f);
  await db.query(
    named(
      'webhooks.record-successes',
      `WITH s AS (
       SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::int[], $5::int[], $6::text[], $7::text[])
         AS t(delivery_id, attempt, at, latency_ms, status_code, response, endpoint_id)
     ), attempt AS (
       INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, latency_ms, status_code, outcome, error, response)
       SELECT delivery_id, attempt, at, latency_ms, status_code, 'success', NULL, response FROM s
     ), delivery AS (
       UPDATE webhook_deliveries d SET status = 'succeeded', completed_at = s.at + s.latency_ms,
         last_status = s.status_code, last_error = NULL
       FROM s WHERE d.id = s.delivery_id
     )
     UPDATE webhook_endpoints SET failing_since = NULL
     WHERE id IN (SELECT endpoint_id FROM s) AND failing_since IS NOT NULL`,
      [
        col((x) => x.attempt.deliveryId),
        col((x) => x.attempt.attempt),
        col((x) => x.attempt.at),
        col((x) => x.attempt.latencyMs),
        col((x) => x.attempt.statusCode),
        col((x) => x.attempt.response),
        col((x) => x.endpointId),
      ],
    ),
  );
}
