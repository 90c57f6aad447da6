/** The state read model in PostgreSQL: apply a batch of events atomically, and the queries the API serves. */
import type { Pool, PoolClient } from 'pg';
import { named } from '../../platform/db';
import type { SubscriptionEvent, SubscriptionState } from '../../core/generated/avro';
import { fold, foldAll, type FoldState } from '../../core/state/fold';
import { splitByRevision } from '../../core/state/revisions';

/** What one batch did: the current state of every subscription it touched, and those left with no events. */
export interface Applied {
  states: SubscriptionState[];
  /** Subscriptions whose every event a correction retracted: their rows are deleted (publish a tombstone). */
  removed: string[];
}

/**
 * Applies `events` in one transaction (the caller's): records each new eventId in the history (a repeat is
 * ignored), folds the new ones into their subscriptions' states (rows locked), applies corrections (a higher
 * revision of an eventId replaces the row and its subscriptions are folded again from their history; the fold
 * does not depend on order, lib/core/state/fold.ts), and returns the current state of every subscription the
 * batch touched, changed or not, for publication.
 */
export async function applyEvents(
  client: PoolClient,
  events: SubscriptionEvent[],
  now: number,
): Promise<Applied> {
  if (events.length === 0) return { states: [], removed: [] };
  const { originals, corrections } = splitByRevision(events);
  const fresh = await insertOriginals(client, originals);
  const refold = await supersede(client, corrections);
  const keys = [...new Set([...events.map((e) => e.subscriptionKey), ...refold])].sort(); // consistent lock order
  const rows = await client.query<{ subscription_key: string; fold: FoldState }>(
    named(
      'state.lock-states',
      `SELECT subscription_key, fold FROM subscription_state WHERE subscription_key = ANY($1) ORDER BY subscription_key FOR UPDATE`,
      [keys],
    ),
  );
  const states = new Map(rows.rows.map((r) => [r.subscription_key, r.fold]));
  const changed = new Set<string>();
  const once = new Set<string>();
  for (const e of originals) {
    if (!fresh.has(e.eventId) || once.has(e.eventId) || refold.has(e.subscriptionKey)) continue;
    once.add(e.eventId);
    states.set(e.subscriptionKey, fold(states.get(e.subscriptionKey), e, now));
    changed.add(e.subscriptionKey);
  }
  const removed: string[] = [];
  for (const key of refold) {
    const st = foldAll(await historyOf(client, key), now);
    if (st) states.set(key, st);
    else if (states.delete(key)) removed.push(key);
    changed.add(key);
  }
  await saveStates(client, changed, states, removed);
  return {
    states: keys.filter((k) => states.has(k)).map((k) => (states.get(k) as FoldState).state),
    removed,
  };
}

async function insertOriginals(client: PoolClient, events: SubscriptionEvent[]): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  const inserted = await client.query<{ event_id: string }>(
    named(
      'state.insert-originals',
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
    ),
  );
  return new Set(inserted.rows.map((r) => r.event_id));
}

/**
 * Writes each correction whose revision is higher than the applied one (a repeat or an older revision changes
 * nothing) and returns the subscriptions to fold again: the correction's, and the superseded row's when a
 * mapping fix moved the event to another subscription.
 */
async function supersede(client: PoolClient, corrections: SubscriptionEvent[]): Promise<Set<string>> {
  const refold = new Set<string>();
  if (corrections.length === 0) return refold;
  const before = await client.query<{ event_id: string; subscription_key: string }>(
    'SELECT event_id, subscription_key FROM subscription_events WHERE event_id = ANY($1) FOR UPDATE',
    [corrections.map((e) => e.eventId)],
  );
  const written = await client.query<{ event_id: string; subscription_key: string }>(
    `INSERT INTO subscription_events (event_id, subscription_key, type, occurred_at, event, revision, retracted)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::jsonb[], $6::int[], $7::boolean[])
     ON CONFLICT (event_id) DO UPDATE SET subscription_key = EXCLUDED.subscription_key, type = EXCLUDED.type,
       occurred_at = EXCLUDED.occurred_at, event = EXCLUDED.event, revision = EXCLUDED.revision,
       retracted = EXCLUDED.retracted, applied_at = now()
     WHERE subscription_events.revision < EXCLUDED.revision
     RETURNING event_id, subscription_key`,
    [
      corrections.map((e) => e.eventId),
      corrections.map((e) => e.subscriptionKey),
      corrections.map((e) => e.type),
      corrections.map((e) => e.occurredAt),
      corrections.map((e) => JSON.stringify(e)),
      corrections.map((e) => e.revision),
      corrections.map((e) => e.retracted),
    ],
  );
  const previousKey = new Map(before.rows.map((r) => [r.event_id, r.subscription_key]));
  for (const r of written.rows) {
    refold.add(r.subscription_key);
    const prev = previousKey.get(r.event_id);
    if (prev !== undefined) refold.add(prev);
  }
  return refold;
}

async function historyOf(client: PoolClient, key: string): Promise<SubscriptionEvent[]> {
  const r = await client.query<{ event: SubscriptionEvent }>(
    'SELECT event FROM subscription_events WHERE subscription_key = $1 AND NOT retracted ORDER BY event_id',
    [key],
  );
  return r.rows.map((x) => x.event);
}

async function saveStates(
  client: PoolClient,
  changed: Set<string>,
  states: Map<string, FoldState>,
  removed: string[],
): Promise<void> {
  // One statement for the batch (it was one per subscription); keys are sorted, so locks keep their order.
  const saved = [...changed].sort().flatMap((key) => {
    const st = states.get(key);
    return st ? [{ key, st }] : [];
  });
  if (saved.length > 0)
    await client.query(
      named(
        'state.save-states',
        `INSERT INTO subscription_state (subscription_key, app_user_id, fold, updated_at)
         SELECT k, u, f, now() FROM unnest($1::text[], $2::text[], $3::jsonb[]) AS t(k, u, f)
         ON CONFLICT (subscription_key) DO UPDATE SET app_user_id = EXCLUDED.app_user_id, fold = EXCLUDED.fold, updated_at = now()`,
        [
          saved.map((x) => x.key),
          saved.map((x) => x.st.state.appUserId),
          saved.map((x) => JSON.stringify(x.st)),
        ],
      ),
    );
  if (removed.length > 0)
    await client.query('DELETE FROM subscription_state WHERE subscription_key = ANY($1)', [removed]);
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
