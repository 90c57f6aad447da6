/** The state read model in PostgreSQL: apply a batch of events atomically, and the queries the API serves. */
import type { Pool, PoolClient } from 'pg';
import type { SubscriptionEvent, SubscriptionState } from '../../core/generated/avro';
import { fold, type FoldState } from '../../core/state/fold';

/**
 * Applies `events` in one transaction (the caller's): records each new eventId in the history (a repeat is
 * ignored), folds the new ones into their subscriptions' states (rows locked), and returns the current
 * state of every subscription the batch touched, changed or not, for publication.
 */
export async function applyEvents(
  client: PoolClient,
  events: SubscriptionEvent[],
  now: number,
): Promise<SubscriptionState[]> {
  if (events.length === 0) return [];
  const inserted = await client.query<{ event_id: string }>(
    `INSERT INTO subscription_events (event_id, subscription_key, type, occurred_at, event)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::jsonb[])
     ON CONFLICT (event_id) DO NOTHING
     RETURNING event_id`,
    [
      events.map((e) => e.eventId),
      events.map((e) => e.subscriptionKey),
      events.map((e) => e.type),
      events.map((e) => e.occurredAt),
      events.map((e) => JSON.stringify(e)),
    ],
  );
  const fresh = new Set(inserted.rows.map((r) => r.event_id));
  const keys = [...new Set(events.map((e) => e.subscriptionKey))].sort(); // sorted: consistent lock order
  const rows = await client.query<{ subscription_key: string; fold: FoldState }>(
    `SELECT subscription_key, fold FROM subscription_state WHERE subscription_key = ANY($1) ORDER BY subscription_key FOR UPDATE`,
    [keys],
  );
  const states = new Map(rows.rows.map((r) => [r.subscription_key, r.fold]));
  const changed = new Set<string>();
  const once = new Set<string>();
  for (const e of events) {
    if (!fresh.has(e.eventId) || once.has(e.eventId)) continue;
    once.add(e.eventId);
    states.set(e.subscriptionKey, fold(states.get(e.subscriptionKey), e, now));
    changed.add(e.subscriptionKey);
  }
  for (const key of changed) {
    const st = states.get(key) as FoldState;
    await client.query(
      `INSERT INTO subscription_state (subscription_key, app_user_id, fold, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (subscription_key) DO UPDATE SET app_user_id = EXCLUDED.app_user_id, fold = EXCLUDED.fold, updated_at = now()`,
      [key, st.state.appUserId, JSON.stringify(st)],
    );
  }
  return keys.filter((k) => states.has(k)).map((k) => (states.get(k) as FoldState).state);
}

export async function getState(pool: Pool, key: string): Promise<SubscriptionState | undefined> {
  const r = await pool.query<{ fold: FoldState }>(
    'SELECT fold FROM subscription_state WHERE subscription_key = $1',
    [key],
  );
  return r.rows[0]?.fold.state;
}

export async function recentEvents(pool: Pool, key: string, limit = 50): Promise<SubscriptionEvent[]> {
  const r = await pool.query<{ event: SubscriptionEvent }>(
    'SELECT event FROM subscription_events WHERE subscription_key = $1 ORDER BY occurred_at DESC, event_id DESC LIMIT $2',
    [key, limit],
  );
  return r.rows.map((x) => x.event);
}

/** Subscriptions of a user, by subscriptionKey, after `cursor` (exclusive). */
export async function statesOfUser(
  pool: Pool,
  appUserId: string,
  limit: number,
  cursor?: string,
): Promise<SubscriptionState[]> {
  const r = await pool.query<{ fold: FoldState }>(
    `SELECT fold FROM subscription_state WHERE app_user_id = $1 AND ($2::text IS NULL OR subscription_key > $2)
     ORDER BY subscription_key LIMIT $3`,
    [appUserId, cursor ?? null, limit],
  );
  return r.rows.map((x) => x.fold.state);
}

export async function allStates(pool: Pool): Promise<Map<string, FoldState>> {
  const r = await pool.query<{ subscription_key: string; fold: FoldState }>(
    'SELECT subscription_key, fold FROM subscription_state',
  );
  return new Map(r.rows.map((x) => [x.subscription_key, x.fold]));
}
