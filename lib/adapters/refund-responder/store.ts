/**
 * The refund responder's tables: one row per refund request (keyed by the canonical eventId, so a
 * re-delivered record changes nothing), its status and due time, and one row per attempt (Apple or the
 * app's hook). The worker claims due rows with a lease, so an instance that dies mid-attempt leaves a row
 * that another claims after the lease.
 */
import type { Pool, PoolClient } from 'pg';
import type { Migration } from '../../platform/db';
import type { SubscriptionEvent } from '../../core/generated/avro';

export const REFUND_RESPONDER_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'refund requests and attempts',
    sql: `
      CREATE TABLE refund_requests (
        event_id         text PRIMARY KEY,
        transaction_id   text,
        subscription_key text NOT NULL,
        app_user_id      text,
        environment      text NOT NULL,
        requested_at     bigint NOT NULL,          -- the CONSUMPTION_REQUEST's signedDate
        deadline_at      bigint NOT NULL,          -- requested_at + 12 h
        status           text NOT NULL CHECK (status IN ('pending', 'sent', 'refused', 'expired', 'not_consented', 'skipped')),
        next_attempt_at  bigint NOT NULL,
        lease_until      bigint,
        attempts         int NOT NULL DEFAULT 0,
        api_version      text,
        body             jsonb,                    -- what was sent (or last tried)
        context          jsonb,                    -- history summary, the app's answer, notes
        outcome          text,                     -- why it ended so: Apple's answer, the missing consent, ...
        event            jsonb NOT NULL,
        created_at       bigint NOT NULL,
        updated_at       bigint NOT NULL
      );
      CREATE INDEX refund_requests_due ON refund_requests (next_attempt_at) WHERE status = 'pending';
      CREATE INDEX refund_requests_requested ON refund_requests (requested_at, event_id);
      CREATE TABLE refund_request_attempts (
        event_id    text NOT NULL REFERENCES refund_requests (event_id),
        attempt     int NOT NULL,
        target      text NOT NULL CHECK (target IN ('apple', 'hook')),
        at          bigint NOT NULL,
        http_status int,
        error       text,
        PRIMARY KEY (event_id, attempt)
      );
    `,
  },
];

export type RequestStatus = 'pending' | 'sent' | 'refused' | 'expired' | 'not_consented' | 'skipped';

export interface NewRequest {
  event: SubscriptionEvent;
  deadlineAt: number;
  status: 'pending' | 'expired' | 'skipped';
  outcome: string | null;
}

/** Inserts the batch's requests; returns the statuses of the ones that were new (a repeat is ignored). */
export async function insertRequests(
  c: PoolClient,
  rows: NewRequest[],
  now: number,
): Promise<RequestStatus[]> {
  if (rows.length === 0) return [];
  const r = await c.query<{ status: RequestStatus }>(
    `INSERT INTO refund_requests (event_id, transaction_id, subscription_key, app_user_id, environment, requested_at,
       deadline_at, status, outcome, event, next_attempt_at, created_at, updated_at)
     SELECT e, t, k, u, env, req, dl, st, oc, ev, $11, $11, $11
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[],
                 $9::text[], $10::jsonb[]) AS x(e, t, k, u, env, req, dl, st, oc, ev)
     ON CONFLICT (event_id) DO NOTHING
     RETURNING status`,
    [
      rows.map((x) => x.event.eventId),
      rows.map((x) => x.event.transactionId),
      rows.map((x) => x.event.subscriptionKey),
      rows.map((x) => x.event.appUserId),
      rows.map((x) => x.event.environment),
      rows.map((x) => x.event.occurredAt),
      rows.map((x) => x.deadlineAt),
      rows.map((x) => x.status),
      rows.map((x) => x.outcome),
      rows.map((x) => JSON.stringify(x.event)),
      now,
    ],
  );
  return r.rows.map((x) => x.status);
}

export interface DueRequest {
  eventId: string;
  event: SubscriptionEvent;
  deadlineAt: number;
  attempts: number;
}

/** Leases up to `limit` due pending requests until `now + leaseMs` (others skip them meanwhile). */
export async function claimDue(
  pool: Pool,
  now: number,
  leaseMs: number,
  limit: number,
): Promise<DueRequest[]> {
  const r = await pool.query<{
    event_id: string;
    event: SubscriptionEvent;
    deadline_at: string;
    attempts: number;
  }>(
    `UPDATE refund_requests SET lease_until = $2 WHERE event_id IN (
       SELECT event_id FROM refund_requests
       WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < $1)
       ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING event_id, event, deadline_at, attempts`,
    [now, now + leaseMs, limit],
  );
  return r.rows.map((x) => ({
    eventId: x.event_id,
    event: x.event,
    deadlineAt: Number(x.deadline_at),
    attempts: x.attempts,
  }));
}

export interface Attempt {
  target: 'apple' | 'hook';
  at: number;
  httpStatus: number | undefined;
  error: string | undefined;
}

/** What an attempt (or a decision without one) leaves: the new status, and when pending the next time. */
export interface Update {
  status: RequestStatus;
  nextAttemptAt?: number;
  apiVersion?: string;
  body?: object;
  context?: object;
  outcome?: string;
}

/** Records the attempt (when there was one) and the request's new status in one transaction. */
export async function recordStep(
  pool: Pool,
  req: DueRequest,
  attempt: Attempt | undefined,
  u: Update,
  now: number,
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const n = req.attempts + (attempt ? 1 : 0);
    if (attempt)
      await client.query(
        `INSERT INTO refund_request_attempts (event_id, attempt, target, at, http_status, error) VALUES ($1, $2, $3, $4, $5, $6)`,
        [req.eventId, n, attempt.target, attempt.at, attempt.httpStatus ?? null, attempt.error ?? null],
      );
    await client.query(
      `UPDATE refund_requests SET status = $2, next_attempt_at = COALESCE($3, next_attempt_at), lease_until = NULL,
         attempts = $4, api_version = COALESCE($5, api_version), body = COALESCE($6, body),
         context = COALESCE($7, context), outcome = $8, updated_at = $9
       WHERE event_id = $1`,
      [
        req.eventId,
        u.status,
        u.nextAttemptAt ?? null,
        n,
        u.apiVersion ?? null,
        u.body ? JSON.stringify(u.body) : null,
        u.context ? JSON.stringify(u.context) : null,
        u.outcome ?? null,
        now,
      ],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export interface RequestView {
  eventId: string;
  transactionId: string | null;
  subscriptionKey: string;
  appUserId: string | null;
  environment: string;
  requestedAt: number;
  deadlineAt: number;
  status: RequestStatus;
  nextAttemptAt: number | null;
  apiVersion: string | null;
  body: unknown;
  context: unknown;
  outcome: string | null;
  updatedAt: number;
  attempts: {
    attempt: number;
    target: string;
    at: number;
    httpStatus: number | null;
    error: string | null;
  }[];
}

/** Requests made at or after `since` (Apple's signedDate), oldest first, with their attempts. */
export async function listRequests(pool: Pool, since: number, limit: number): Promise<RequestView[]> {
  const r = await pool.query<Record<string, unknown>>(
    `SELECT q.*, COALESCE((SELECT json_agg(json_build_object('attempt', a.attempt, 'target', a.target, 'at', a.at,
              'httpStatus', a.http_status, 'error', a.error) ORDER BY a.attempt)
            FROM refund_request_attempts a WHERE a.event_id = q.event_id), '[]') AS attempt_list
     FROM refund_requests q WHERE q.requested_at >= $1 ORDER BY q.requested_at, q.event_id LIMIT $2`,
    [since, limit],
  );
  return r.rows.map((x) => ({
    eventId: x.event_id as string,
    transactionId: x.transaction_id as string | null,
    subscriptionKey: x.subscription_key as string,
    appUserId: x.app_user_id as string | null,
    environment: x.environment as string,
    requestedAt: Number(x.requested_at),
    deadlineAt: Number(x.deadline_at),
    status: x.status as RequestStatus,
    nextAttemptAt: x.status === 'pending' ? Number(x.next_attempt_at) : null,
    apiVersion: x.api_version as string | null,
    body: x.body,
    context: x.context,
    outcome: x.outcome as string | null,
    updatedAt: Number(x.updated_at),
    attempts: x.attempt_list as RequestView['attempts'],
  }));
}
