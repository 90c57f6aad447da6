/**
 * Durable triggers in PostgreSQL. Every trigger, immediate or delayed, is a row in trigger_outbox with its
 * due time; the publisher sends due rows and marks them sent. So triggers survive restarts, fire on
 * recovery when the service was down at their due time, are cancelled by updating pending rows, and are
 * deduplicated by their deterministic triggerId (the primary key).
 */
import type { PoolClient } from 'pg';
import type { Migration } from '../../platform/db';
import type { EngagementTrigger, SubscriptionEvent, TriggerKind } from '../../core/generated/avro';
import { assertNever } from '../../core/errors';
import type { CancelTarget, Decision, TriggerHistory } from '../../core/triggers/decide';

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
];

/** Records the event once; false when it was applied before (a redelivery). */
export async function markApplied(c: PoolClient, eventId: string): Promise<boolean> {
  const r = await c.query('INSERT INTO trigger_events (event_id) VALUES ($1) ON CONFLICT DO NOTHING', [
    eventId,
  ]);
  return r.rowCount === 1;
}

export async function loadHistory(
  c: PoolClient,
  e: SubscriptionEvent,
  now: number,
  windowDays: number,
): Promise<TriggerHistory> {
  if (e.type === 'REFUNDED' && e.appUserId) {
    await c.query(
      'INSERT INTO trigger_refunds (event_id, app_user_id, occurred_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [e.eventId, e.appUserId, e.occurredAt],
    );
  }
  const refunds = e.appUserId
    ? ((
        await c.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM trigger_refunds WHERE app_user_id = $1 AND occurred_at > $2',
          [e.appUserId, e.occurredAt - windowDays * 86_400_000],
        )
      ).rows[0]?.n ?? 0)
    : 0;
  const recent = await c.query<{ kind: TriggerKind; due_at: string }>(
    `SELECT kind, due_at FROM trigger_outbox
     WHERE status <> 'cancelled' AND due_at > $3
       AND (($1::text IS NOT NULL AND app_user_id = $1) OR ($1::text IS NULL AND subscription_key = $2))`,
    [e.appUserId, e.subscriptionKey, now - 365 * 86_400_000],
  );
  return { userRefunds: refunds, recent: recent.rows.map((r) => ({ kind: r.kind, at: Number(r.due_at) })) };
}

const CANCEL_PENDING = `UPDATE trigger_outbox SET status = 'cancelled' WHERE status = 'pending' AND kind = ANY($1)`;

/** Only a `user` target reaches the user's other subscriptions; the statement differs, not a parameter. */
async function cancel(c: PoolClient, t: CancelTarget): Promise<void> {
  switch (t.scope) {
    case 'subscription':
      await c.query(`${CANCEL_PENDING} AND subscription_key = $2`, [t.kinds, t.subscriptionKey]);
      return;
    case 'user':
      await c.query(`${CANCEL_PENDING} AND (subscription_key = $2 OR app_user_id = $3)`, [
        t.kinds,
        t.subscriptionKey,
        t.appUserId,
      ]);
      return;
    default:
      assertNever(t, 'cancel scope');
  }
}

export async function applyDecision(c: PoolClient, d: Decision): Promise<void> {
  for (const t of d.cancel) await cancel(c, t);
  for (const t of [...d.emit, ...d.schedule]) {
    await c.query(
      `INSERT INTO trigger_outbox (trigger_id, kind, subscription_key, app_user_id, due_at, trigger) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (trigger_id) DO NOTHING`,
      [t.triggerId, t.kind, t.subscriptionKey, t.appUserId, t.dueAt, JSON.stringify(t)],
    );
  }
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
