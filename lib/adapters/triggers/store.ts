/**
 * Durable triggers in PostgreSQL. Every trigger, immediate or delayed, is a row in trigger_outbox with its
 * due time; the publisher sends due rows and marks them sent. So triggers survive restarts, fire on
 * recovery when the service was down at their due time, are cancelled by updating pending rows, and are
 * deduplicated by their deterministic triggerId (the primary key).
 */
import type { PoolClient } from 'pg';
import { named, type Migration } from '../../platform/db';
import type { EngagementTrigger, TriggerKind } from '../../core/generated/avro';
import { assertNever } from '../../core/errors';
import type { StoredTrigger } from '../../core/triggers/batch';
import type { CancelTarget, Decision } from '../../core/triggers/decide';

export const TRIGGER_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'trigger outbox, applied events, refunds',
    sql: `
      CREATE TABLE trigger_outbox (
        trigger_id       text PRIMARY KEY,
        kind             text NOT NULL,
        subscription_key text NOT NULL,
        app_user_id      text,
        due_at           bigint NOT NULL,
        status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'cancelled')),
        trigger          jsonb NOT NULL,
        sent_at          bigint,
        created_at       timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX trigger_outbox_due ON trigger_outbox (due_at) WHERE status = 'pending';
      CREATE INDEX trigger_outbox_user ON trigger_outbox (app_user_id, kind, due_at);
      CREATE INDEX trigger_outbox_sub ON trigger_outbox (subscription_key, kind) WHERE status = 'pending';
      CREATE TABLE trigger_events (event_id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE trigger_refunds (event_id text PRIMARY KEY, app_user_id text NOT NULL, occurred_at bigint NOT NULL);
      CREATE INDEX trigger_refunds_user ON trigger_refunds (app_user_id, occurred_at);
    `,
  },
  {
    version: 2,
    name: 'outbox by subscription, any status',
    // A batch reads the history of its subscriptions without a user (sent rows too) in one statement.
    sql: `CREATE INDEX trigger_outbox_sub_any ON trigger_outbox (subscription_key)`,
  },
  {
    version: 3,
    name: 'outbox vacuumed by dead rows, not by table size',
    // The outbox is a queue (pending -> sent or cancelled): its pending indexes keep a dead entry per
    // transition until VACUUM, and the publisher's claim walks them. Same reasoning as the webhook
    // deliveries (lib/adapters/webhooks/store/migrations.ts, version 2).
    sql: `ALTER TABLE trigger_outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000)`,
  },
];

/** Records the events once; returns those applied now (not seen before: a redelivery adds nothing). */
export async function markApplied(c: PoolClient, eventIds: string[]): Promise<Set<string>> {
  const r = await c.query<{ event_id: string }>(
    named(
      'triggers.mark-applied',
      `INSERT INTO trigger_events (event_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING event_id`,
      [eventIds],
    ),
  );
  return new Set(r.rows.map((x) => x.event_id));
}

/**
 * Stores the batch's refunds and counts, per query, the user's refunds stored before the batch after
 * `since`; one statement (its SELECT sees the table as it was before the INSERT of the same statement).
 */
export async function recordRefunds(
  c: PoolClient,
  refunds: { eventId: string; appUserId: string; occurredAt: number }[],
  queries: { appUserId: string; since: number }[],
): Promise<number[]> {
  if (refunds.length === 0 && queries.length === 0) return [];
  const r = await c.query<{ n: number }>(
    named(
      'triggers.record-refunds',
      `WITH stored AS (
       INSERT INTO trigger_refunds (event_id, app_user_id, occurred_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING
     )
     SELECT (SELECT count(*)::int FROM trigger_refunds r WHERE r.app_user_id = q.u AND r.occurred_at > q.since) AS n
     FROM unnest($4::text[], $5::bigint[]) WITH ORDINALITY AS q(u, since, i) ORDER BY q.i`,
      [
        refunds.map((x) => x.eventId),
        refunds.map((x) => x.appUserId),
        refunds.map((x) => x.occurredAt),
        queries.map((x) => x.appUserId),
        queries.map((x) => x.since),
      ],
    ),
  );
  return r.rows.map((x) => x.n);
}

/**
 * The outbox rows a batch's decisions can see or cancel: not cancelled, of its subscriptions or users,
 * pending or due within the history window.
 */
export async function loadStored(
  c: PoolClient,
  subscriptionKeys: string[],
  appUserIds: string[],
  since: number,
): Promise<StoredTrigger[]> {
  const r = await c.query<{
    trigger_id: string;
    kind: TriggerKind;
    subscription_key: string;
    app_user_id: string | null;
    due_at: string;
    status: 'pending' | 'sent';
  }>(
    named(
      'triggers.load-stored',
      `SELECT trigger_id, kind, subscription_key, app_user_id, due_at, status FROM trigger_outbox
     WHERE status <> 'cancelled' AND (status = 'pending' OR due_at > $3)
       AND (subscription_key = ANY($1::text[]) OR app_user_id = ANY($2::text[]))`,
      [subscriptionKeys, appUserIds, since],
    ),
  );
  return r.rows.map((x) => ({
    triggerId: x.trigger_id,
    kind: x.kind,
    subscriptionKey: x.subscription_key,
    appUserId: x.app_user_id,
    dueAt: Number(x.due_at),
    status: x.status,
  }));
}

/** One row per kind of each target; a `user` target also reaches the user's other subscriptions. */
type CancelRow = { kind: string; sub: string; user: string | null };

function cancelRows(targets: CancelTarget[]): CancelRow[] {
  return targets.flatMap((t): CancelRow[] => {
    switch (t.scope) {
      case 'subscription':
        return t.kinds.map((kind) => ({ kind, sub: t.subscriptionKey, user: null }));
      case 'user':
        return t.kinds.map((kind) => ({ kind, sub: t.subscriptionKey, user: t.appUserId }));
      default:
        return assertNever(t, 'cancel scope');
    }
  });
}

/**
 * Cancels the pending rows stored before this statement that `cancel` targets, and inserts `inserts` with
 * their status: one statement (the UPDATE does not see the rows the INSERT adds).
 */
export async function writeOutbox(
  c: PoolClient,
  cancel: CancelTarget[],
  inserts: { trigger: EngagementTrigger; status: 'pending' | 'cancelled' }[],
): Promise<void> {
  const cancels = cancelRows(cancel);
  if (cancels.length === 0 && inserts.length === 0) return;
  await c.query(
    named(
      'triggers.write-outbox',
      `WITH cancelled AS (
       UPDATE trigger_outbox o SET status = 'cancelled'
       FROM unnest($1::text[], $2::text[], $3::text[]) AS t(kind, sub, usr)
       WHERE o.status = 'pending' AND o.kind = t.kind AND (o.subscription_key = t.sub OR o.app_user_id = t.usr)
     )
     INSERT INTO trigger_outbox (trigger_id, kind, subscription_key, app_user_id, due_at, trigger, status)
     SELECT i.id, i.kind, i.sub, i.usr, i.due, i.body::jsonb, i.status
     FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[])
       AS i(id, kind, sub, usr, due, body, status)
     ON CONFLICT (trigger_id) DO NOTHING`,
      [
        cancels.map((x) => x.kind),
        cancels.map((x) => x.sub),
        cancels.map((x) => x.user),
        inserts.map((x) => x.trigger.triggerId),
        inserts.map((x) => x.trigger.kind),
        inserts.map((x) => x.trigger.subscriptionKey),
        inserts.map((x) => x.trigger.appUserId),
        inserts.map((x) => x.trigger.dueAt),
        inserts.map((x) => JSON.stringify(x.trigger)),
        inserts.map((x) => x.status),
      ],
    ),
  );
}

/** One decision's writes (cancellations first, then its triggers, pending). */
export function applyDecision(c: PoolClient, d: Decision): Promise<void> {
  return writeOutbox(
    c,
    d.cancel,
    [...d.emit, ...d.schedule].map((trigger) => ({ trigger, status: 'pending' as const })),
  );
}

/** Due pending triggers, locked for this publisher (others skip them). */
export async function lockDue(c: PoolClient, now: number, limit: number): Promise<EngagementTrigger[]> {
  const r = await c.query<{ trigger: EngagementTrigger }>(
    `SELECT trigger FROM trigger_outbox WHERE status = 'pending' AND due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [now, limit],
  );
  return r.rows.map((x) => x.trigger);
}

export async function markSent(c: PoolClient, ids: string[], now: number): Promise<void> {
  await c.query(`UPDATE trigger_outbox SET status = 'sent', sent_at = $2 WHERE trigger_id = ANY($1)`, [
    ids,
    now,
  ]);
}
