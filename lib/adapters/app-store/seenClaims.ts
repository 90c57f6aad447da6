/**
 * How many of a page's notifications the normalizer has already seen: the ids it claimed in its
 * `app_store_claims` table (lib/adapters/normalizer/claims.ts; claims are per raw topic). Read only: the
 * backfill never claims, the normalizer does when the record arrives.
 */
import type { Pool } from 'pg';

export async function countClaimed(pool: Pool, rawTopic: string, notificationIds: string[]): Promise<number> {
  if (notificationIds.length === 0) return 0;
  const r = await pool.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM app_store_claims WHERE raw_topic = $1 AND notification_id = ANY($2::text[])',
    [rawTopic, notificationIds],
  );
  return Number(r.rows[0]?.n ?? 0);
}
