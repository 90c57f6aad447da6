/**
 * `storeline renormalize`, the decision: what the current mapping makes of one raw record (`fresh`) against
 * what the canonical topic holds for it (`held`, the highest revision of each eventId whose source is that
 * record). Equal events produce nothing; a changed one is republished with the next revision; an eventId
 * only the new mapping yields is added (revision 1 when it was never published: everything renormalize writes
 * is a correction, revision > 0, so triggers leave it alone); one only the old mapping yielded is retracted
 * (next revision, `retracted`, its old fields). Pure. See
 * docs/toolkit.md#re-normalize-after-a-mapping-fix.
 */
import type { SubscriptionEvent } from '../generated/avro';

type CorrectionKind = 'changed' | 'added' | 'retracted';

export interface Correction {
  kind: CorrectionKind;
  /** What to publish: the event with its new revision. */
  event: SubscriptionEvent;
  /** The held revision it supersedes (none for `added`). */
  previous?: SubscriptionEvent;
  /** Top-level fields that differ from `previous` (revision and retracted aside). */
  fields: string[];
}

const BOOKKEEPING = new Set<keyof SubscriptionEvent>(['revision', 'retracted']);

/** Fields of `a` and `b` whose values differ, compared as JSON (nested records whole). */
export function differingFields(a: SubscriptionEvent, b: SubscriptionEvent): string[] {
  const names = new Set([...Object.keys(a), ...Object.keys(b)] as (keyof SubscriptionEvent)[]);
  return [...names]
    .filter((k) => !BOOKKEEPING.has(k) && JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .sort();
}

function next(event: SubscriptionEvent, held: SubscriptionEvent, retracted: boolean): SubscriptionEvent {
  return { ...event, revision: held.revision + 1, retracted };
}

export function correctionsFor(fresh: SubscriptionEvent[], held: SubscriptionEvent[]): Correction[] {
  const heldById = new Map(held.map((e) => [e.eventId, e]));
  const freshIds = new Set(fresh.map((e) => e.eventId));
  const out: Correction[] = [];
  for (const e of fresh) {
    const h = heldById.get(e.eventId);
    if (!h) {
      out.push({ kind: 'added', event: { ...e, revision: 1, retracted: false }, fields: [] });
      continue;
    }
    const fields = differingFields(h, e);
    if (fields.length > 0 || h.retracted) {
      out.push({ kind: h.retracted ? 'added' : 'changed', event: next(e, h, false), previous: h, fields });
    }
  }
  for (const h of held) {
    if (!freshIds.has(h.eventId) && !h.retracted)
      out.push({ kind: 'retracted', event: next(h, h, true), previous: h, fields: [] });
  }
  return out;
}

/** The highest revision of each eventId among `events` (what a consumer keeping the latest holds). */
export function latestRevisions(events: Iterable<SubscriptionEvent>): Map<string, SubscriptionEvent> {
  const latest = new Map<string, SubscriptionEvent>();
  for (const e of events) {
    const seen = latest.get(e.eventId);
    if (!seen || seen.revision < e.revision) latest.set(e.eventId, e);
  }
  return latest;
}
