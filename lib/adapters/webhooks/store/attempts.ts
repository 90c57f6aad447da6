/** webhook_attempts: the log of every attempt; a success also completes its delivery and heals its endpoint. */
import type { PoolClient } from 'pg';
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
 * The hot path: a successful attempt recorded, its delivery completed and its endpoint marked healthy, in
 * one statement (atomic, one round trip).
 */
export async function recordSuccess(db: Db, a: AttemptRecord, endpointId: string): Promise<void> {
  await db.query(
    `WITH attempt AS (
       INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, latency_ms, status_code, outcome, error, response)
       VALUES ($1, $2, $3, $4, $5, 'success', NULL, $6)
     ), delivery AS (
       UPDATE webhook_deliveries SET status = 'succeeded', completed_at = $7, last_status = $5, last_error = NULL
       WHERE id = $1
     )
     UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $8 AND failing_since IS NOT NULL`,
    [a.deliveryId, a.attempt, a.at, a.latencyMs, a.statusCode, a.response, a.at + a.latencyMs, endpointId],
  );
}
