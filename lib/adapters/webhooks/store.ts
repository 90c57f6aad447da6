/**
 * The durable delivery store (PostgreSQL). Instead of a chain of Kafka retry topics, each (message,
 * endpoint) pair is a row with its own due time: a failing endpoint's backlog waits in its own rows and
 * never holds back another endpoint, delays of hours cost nothing, and the same rows are the delivery log
 * and the replay source. Dispatchers claim due rows with a lease (FOR UPDATE SKIP LOCKED), so several
 * instances share the work and a crashed instance's claims become due again when the lease runs out.
 */
import type { Pool, PoolClient } from 'pg';
import type { Migration } from '../../platform/db';
import type { EndpointFilter, WebhookMessage } from '../../core/webhooks/messages';

export const WEBHOOK_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'endpoints, messages, deliveries, attempts',
    sql: `
      CREATE TABLE webhook_endpoints (
        id              text PRIMARY KEY,
        url             text NOT NULL,
        description     text,
        event_types     text[],
        environments    text[],
        app_ids         text[],
        enabled         boolean NOT NULL DEFAULT true,
        disabled_reason text,
        disabled_at     bigint,
        failing_since   bigint,
        max_concurrency int NOT NULL,
        timeout_ms      int NOT NULL,
        secrets         jsonb NOT NULL,
        created_at      bigint NOT NULL,
        updated_at      bigint NOT NULL
      );
      CREATE TABLE webhook_messages (
        id               text PRIMARY KEY,
        type             text NOT NULL,
        subscription_key text NOT NULL,
        body             text NOT NULL,
        created_at       bigint NOT NULL
      );
      CREATE TABLE webhook_deliveries (
        id              bigserial PRIMARY KEY,
        endpoint_id     text NOT NULL REFERENCES webhook_endpoints (id),
        message_id      text NOT NULL REFERENCES webhook_messages (id),
        status          text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
        attempts        int NOT NULL DEFAULT 0,
        next_attempt_at bigint NOT NULL,
        last_status     int,
        last_error      text,
        created_at      bigint NOT NULL,
        completed_at    bigint,
        UNIQUE (endpoint_id, message_id)
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
      CREATE INDEX webhook_deliveries_endpoint_due ON webhook_deliveries (endpoint_id, next_attempt_at, id)
        WHERE status = 'pending';
      CREATE INDEX webhook_deliveries_endpoint_done ON webhook_deliveries (endpoint_id, completed_at)
        WHERE status <> 'pending';
      CREATE TABLE webhook_attempts (
        id           bigserial PRIMARY KEY,
        delivery_id  bigint NOT NULL REFERENCES webhook_deliveries (id),
        attempt      int NOT NULL,
        attempted_at bigint NOT NULL,
        latency_ms   int NOT NULL,
        status_code  int,
        outcome      text NOT NULL,
        error        text,
        response     text
      );
      CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
    `,
  },
];

interface SecretEntry {
  secret: string;
  /** Null while current; set on rotation to when the old secret stops being used. */
  expiresAt: number | null;
}

export interface Endpoint extends EndpointFilter {
  id: string;
  url: string;
  description: string | null;
  enabled: boolean;
  disabledReason: string | null;
  disabledAt: number | null;
  failingSince: number | null;
  maxConcurrency: number;
  timeoutMs: number;
  secrets: SecretEntry[];
  createdAt: number;
  updatedAt: number;
}

/** What the API shows: never the secrets. */
export type PublicEndpoint = Omit<Endpoint, 'secrets'> & { secretCount: number };

export function toPublic(e: Endpoint): PublicEndpoint {
  const { secrets, ...rest } = e;
  return { ...rest, secretCount: secrets.length };
}

/** Secrets to sign with at `now`: the current one first, then rotated ones not yet expired. */
export function signingSecrets(e: Pick<Endpoint, 'secrets'>, now: number): string[] {
  return e.secrets
    .filter((s) => s.expiresAt === null || s.expiresAt > now)
    .sort((a, b) => (a.expiresAt === null ? -1 : b.expiresAt === null ? 1 : b.expiresAt - a.expiresAt))
    .map((s) => s.secret);
}

interface EndpointRow {
  id: string;
  url: string;
  description: string | null;
  event_types: string[] | null;
  environments: string[] | null;
  app_ids: string[] | null;
  enabled: boolean;
  disabled_reason: string | null;
  disabled_at: string | null;
  failing_since: string | null;
  max_concurrency: number;
  timeout_ms: number;
  secrets: SecretEntry[];
  created_at: string;
  updated_at: string;
}

const num = (v: string | null): number | null => (v === null ? null : Number(v));

function endpointOf(r: EndpointRow): Endpoint {
  return {
    id: r.id,
    url: r.url,
    description: r.description,
    eventTypes: r.event_types,
    environments: r.environments,
    appIds: r.app_ids,
    enabled: r.enabled,
    disabledReason: r.disabled_reason,
    disabledAt: num(r.disabled_at),
    failingSince: num(r.failing_since),
    maxConcurrency: r.max_concurrency,
    timeoutMs: r.timeout_ms,
    secrets: r.secrets,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

type Db = Pool | PoolClient;

/** Columns $1..$14 in the order both writes below use; $15 is created_at on insert. */
function endpointParams(e: Endpoint): unknown[] {
  return [
    e.id,
    e.url,
    e.description,
    e.eventTypes,
    e.environments,
    e.appIds,
    e.enabled,
    e.disabledReason,
    e.disabledAt,
    e.failingSince,
    e.maxConcurrency,
    e.timeoutMs,
    JSON.stringify(e.secrets),
    e.updatedAt,
  ];
}

export async function insertEndpoint(db: Db, e: Endpoint): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO webhook_endpoints (id, url, description, event_types, environments, app_ids, enabled,
       disabled_reason, disabled_at, failing_since, max_concurrency, timeout_ms, secrets, updated_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (id) DO NOTHING`,
    [...endpointParams(e), e.createdAt],
  );
  return r.rowCount === 1;
}

/** Writes every mutable field of `e` (the caller read it FOR UPDATE and changed it). */
export async function saveEndpoint(db: Db, e: Endpoint): Promise<void> {
  await db.query(
    `UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, environments = $5, app_ids = $6,
       enabled = $7, disabled_reason = $8, disabled_at = $9, failing_since = $10, max_concurrency = $11,
       timeout_ms = $12, secrets = $13, updated_at = $14 WHERE id = $1`,
    endpointParams(e),
  );
}

export async function getEndpoint(db: Db, id: string, forUpdate = false): Promise<Endpoint | undefined> {
  const r = await db.query<EndpointRow>(
    `SELECT * FROM webhook_endpoints WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
    [id],
  );
  return r.rows[0] ? endpointOf(r.rows[0]) : undefined;
}

export async function listEndpoints(db: Db): Promise<Endpoint[]> {
  const r = await db.query<EndpointRow>('SELECT * FROM webhook_endpoints ORDER BY id');
  return r.rows.map(endpointOf);
}

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

/** Enabled endpoints with deliveries due at `now` (one query: it runs on every dispatch round). */
export async function endpointsWithDueWork(db: Db, now: number): Promise<Endpoint[]> {
  const r = await db.query<EndpointRow>(
    `SELECT e.* FROM webhook_endpoints e
     WHERE e.enabled AND EXISTS (SELECT 1 FROM webhook_deliveries d
       WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= $1)
     ORDER BY e.id`,
    [now],
  );
  return r.rows.map(endpointOf);
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

/** After a failure: returns since when the endpoint has been failing (set now if it was healthy). */
export async function markEndpointFailing(
  c: PoolClient,
  id: string,
  now: number,
): Promise<{ failingSince: number; enabled: boolean } | undefined> {
  const r = await c.query<{ failing_since: string; enabled: boolean }>(
    `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $2) WHERE id = $1
     RETURNING failing_since, enabled`,
    [id, now],
  );
  const row = r.rows[0];
  return row ? { failingSince: Number(row.failing_since), enabled: row.enabled } : undefined;
}

/** Disables an enabled endpoint; false when it was already disabled. */
export async function disableEndpoint(
  c: PoolClient,
  id: string,
  reason: string,
  now: number,
): Promise<boolean> {
  const r = await c.query(
    `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, disabled_at = $3, updated_at = $3
     WHERE id = $1 AND enabled`,
    [id, reason, now],
  );
  return r.rowCount === 1;
}
