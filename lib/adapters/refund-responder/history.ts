/**
 * What Storeline knows of the customer behind a refund request: the state aggregator's event history
 * (its `subscription_events` table, in its own schema) for this subscription and every other subscription
 * of the same app user. Read-only; a missing state schema (the aggregator not deployed) gives an empty
 * history, which Apple receives as "undeclared".
 */
import type { Pool } from 'pg';
import { quoteIdent } from '../../platform/db';
import type { SubscriptionEvent } from '../../core/generated/avro';
import type { HistoryEvent } from '../../core/app-store/consumption';

const UNDEFINED_TABLE = '42P01';
const INVALID_SCHEMA = '3F000';

export async function loadCustomerHistory(
  pool: Pool,
  stateSchema: string,
  request: SubscriptionEvent,
): Promise<{ events: HistoryEvent[]; stateAvailable: boolean }> {
  const s = quoteIdent(stateSchema);
  let rows: SubscriptionEvent[];
  try {
    // `retracted` (an event a re-normalization withdrew) is read through to_jsonb so the query also works
    // on a state schema from before that column existed.
    const r = await pool.query<{ event: SubscriptionEvent; retracted: string | null }>(
      `SELECT se.event, to_jsonb(se) ->> 'retracted' AS retracted FROM ${s}.subscription_events se
       WHERE se.subscription_key IN (
         SELECT $1::text UNION SELECT subscription_key FROM ${s}.subscription_state WHERE app_user_id = $2)`,
      [request.subscriptionKey, request.appUserId],
    );
    rows = r.rows.filter((x) => x.retracted !== 'true').map((x) => x.event);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code !== UNDEFINED_TABLE && code !== INVALID_SCHEMA) throw err;
    rows = [];
  }
  const stateAvailable = rows.length > 0;
  // The request itself carries the subscription's first purchase date, even when the history is empty.
  if (!rows.some((e) => e.eventId === request.eventId)) rows.push(request);
  return { events: rows.map(toHistoryEvent), stateAvailable };
}

function toHistoryEvent(e: SubscriptionEvent): HistoryEvent {
  return {
    type: e.type,
    occurredAt: e.occurredAt,
    originalPurchasedAt: e.originalPurchasedAt ?? null,
    transactionId: e.transactionId ?? null,
    price: e.price ? { amountMicros: Number(e.price.amountMicros), currency: e.price.currency } : null,
    refundPercentage: e.refund?.percentage ?? null,
    periodType: e.periodType ?? null,
    offerType: e.offer?.type ?? null,
  };
}
