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

function recentFor(index: RowIndex, e: SubscriptionEvent, now: number): { kind: TriggerKind; at: number }[] {
  const candidates =
    e.appUserId !== null ? index.byUser.get(e.appUserId) : index.bySub.get(e.subscriptionKey);
  return (candidates ?? [])
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

/**
 * The batch's rows by subscription and by user: an event looks only at its own subscription's and user's
 * rows (scanning every row per event made a batch quadratic in its size).
 */
class RowIndex {
  readonly bySub = new Map<string, Row[]>();
  readonly byUser = new Map<string, Row[]>();

  add(r: Row): void {
    push(this.bySub, r.subscriptionKey, r);
    if (r.appUserId !== null) push(this.byUser, r.appUserId, r);
  }

  /** Rows a cancellation can hit, each once. */
  candidates(t: CancelTarget): Row[] {
    const own = this.bySub.get(t.subscriptionKey) ?? [];
    if (t.scope !== 'user') return own;
    return [...new Set([...own, ...(this.byUser.get(t.appUserId) ?? [])])];
  }
}

function push<T>(m: Map<string, T[]>, key: string, value: T): void {
  const list = m.get(key);
  if (list) list.push(value);
  else m.set(key, [value]);
}

/** Decides `items` in order (events already deduplicated: each applied for the first time). */
export function decideBatch(items: BatchItem[], stored: StoredTrigger[], rules: Rules): BatchResult {
  const rows: Row[] = stored.map((s) => ({ ...s }));
  const index = new RowIndex();
  for (const r of rows) index.add(r);
  const ids = new Set(rows.map((r) => r.triggerId));
  const refunds = new Map<string, number[]>(); // user -> times of the batch's refunds so far
  const decisions: Decision[] = [];
  for (const { event: e, storedRefunds, now } of items) {
    const own = refundOf(e);
    if (own) push(refunds, own.user, own.at);
    const since = e.occurredAt - rules.refundAbuseSuspected.windowDays * DAY_MS;
    const batchRefunds = e.appUserId ? (refunds.get(e.appUserId) ?? []).filter((at) => at > since) : [];
    const history = {
      userRefunds: e.appUserId ? storedRefunds + batchRefunds.length : 0,
      recent: recentFor(index, e, now),
    };
    const d = decide(e, history, now, rules);
    decisions.push(d);
    for (const t of d.cancel) for (const r of index.candidates(t)) if (hits(r, t)) r.status = 'cancelled';
    for (const t of [...d.emit, ...d.schedule]) {
      // ON CONFLICT DO NOTHING: an id already stored (or written earlier in the batch) stays as it is.
      if (ids.has(t.triggerId)) continue;
      ids.add(t.triggerId);
      const row: Row = { ...t, status: 'pending', trigger: t };
      rows.push(row);
      index.add(row);
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
