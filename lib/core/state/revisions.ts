/**
 * Corrections (`revision` > 0, published by `storeline renormalize`) supersede the lower revisions of their
 * eventId. Within one batch only the highest revision of each eventId counts; originals (revision 0) are
 * applied as before. Pure. See docs/toolkit.md#re-normalize-after-a-mapping-fix.
 */
import type { SubscriptionEvent } from '../generated/avro';

export interface SplitByRevision {
  originals: SubscriptionEvent[];
  /** One per eventId: its highest revision in the batch. */
  corrections: SubscriptionEvent[];
}

export function splitByRevision(events: SubscriptionEvent[]): SplitByRevision {
  const originals: SubscriptionEvent[] = [];
  const latest = new Map<string, SubscriptionEvent>();
  for (const e of events) {
    if (e.revision === 0) {
      originals.push(e);
      continue;
    }
    const seen = latest.get(e.eventId);
    if (!seen || seen.revision < e.revision) latest.set(e.eventId, e);
  }
  return { originals, corrections: [...latest.values()] };
}
