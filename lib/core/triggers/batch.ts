/**
 * A batch of events decided as if one after the other (each sees the outbox rows and refunds its
 * predecessors in the batch wrote or cancelled), from one read of the stored state, so the adapter needs a
 * fixed number of set-based statements per batch instead of several queries per event.
 */
import type { EngagementTrigger, SubscriptionEvent, TriggerKind } from '../generated/avro';
import { decide, type CancelTarget, type Decision } from './decide';
import type { Rules } from './rules';

const DAY_MS = 86_400_000;
/** How far back `recent` reaches (frequency caps are shorter). */
export const HISTORY_MS = 365 * DAY_MS;

/** An outbox row as stored before the batch: not cancelled, and pending or due within HISTORY_MS. */
export interface StoredTrigger {
  triggerId: string;
  kind: TriggerKind;
  subscriptionKey: string;
  appUserId: string | null;
  dueAt: number;
  status: 'pending' | 'sent';
}

/** One event to decide, with the user's refunds stored before the batch within the rules' window. */
export interface BatchItem {
  event: SubscriptionEvent;
  storedRefunds: number;
  now: number;
}

export interface BatchResult {
  decisions: Decision[];
  /** Rows to insert, with their status after the rest of the batch (a later event may cancel them). */
  inserts: { trigger: EngagementTrigger; status: 'pending' | 'cancelled' }[];
  /** Every cancellation of the batch, for the rows stored before it (the inserts carry their own status). */
  cancel: CancelTarget[];
}

interface Row extends Omit<StoredTrigger, 'status'> {
  status: 'pending' | 'sent' | 'cancelled';
  trigger?: EngagementTrigger;
}

/** A refund counts for a user when it is an event of the batch no later than the one deciding. */
const refundOf = (e: SubscriptionEvent): { user: string; at: number } | undefined =>
  e.type === 'REFUNDED' && e.appUserId ? { user: e.appUserId, at: e.occurredAt } : undefined;

function recentFor(rows: Row[], e: SubscriptionEvent, now: number): { kind: TriggerKind; at: number }[] {
  return rows
    .filter(
      (r) =>
        r.status !== 'cancelled' &&
        r.dueAt > now - HISTORY_MS &&
        (e.appUserId !== null ? r.appUserId === e.appUserId : r.subscriptionKey === e.subscriptionKey),
    )
    .map((r) => ({ kind: r.kind, at: r.dueAt }));
}

function hits(r: Row, t: CancelTarget): boolean {
  if (r.status !== 'pending' || !t.kinds.includes(r.kind)) return false;
  return r.subscriptionKey === t.subscriptionKey || (t.scope === 'user' && r.appUserId === t.appUserId);
}

/** Decides `items` in order (events already deduplicated: each applied for the first time). */
export function decideBatch(items: BatchItem[], stored: StoredTrigger[], rules: Rules): BatchResult {
  const rows: Row[] = stored.map((s) => ({ ...s }));
  const ids = new Set(rows.map((r) => r.triggerId));
  const refunds: { user: string; at: number }[] = [];
  const decisions: Decision[] = [];
  for (const { event: e, storedRefunds, now } of items) {
    const own = refundOf(e);
    if (own) refunds.push(own);
    const since = e.occurredAt - rules.refundAbuseSuspected.windowDays * DAY_MS;
    const batchRefunds = e.appUserId ? refunds.filter((r) => r.user === e.appUserId && r.at > since) : [];
    const history = {
      userRefunds: e.appUserId ? storedRefunds + batchRefunds.length : 0,
      recent: recentFor(rows, e, now),
    };
    const d = decide(e, history, now, rules);
    decisions.push(d);
    for (const t of d.cancel) for (const r of rows) if (hits(r, t)) r.status = 'cancelled';
    for (const t of [...d.emit, ...d.schedule]) {
      // ON CONFLICT DO NOTHING: an id already stored (or written earlier in the batch) stays as it is.
      if (ids.has(t.triggerId)) continue;
      ids.add(t.triggerId);
      rows.push({ ...t, status: 'pending', trigger: t });
    }
  }
  return {
    decisions,
    inserts: rows.flatMap((r): BatchResult['inserts'] =>
      r.trigger ? [{ trigger: r.trigger, status: r.status === 'cancelled' ? 'cancelled' : 'pending' }] : [],
    ),
    cancel: decisions.flatMap((d) => d.cancel),
  };
}
