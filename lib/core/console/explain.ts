/**
 * "Is this subscriber entitled now, and why?" in one sentence, from the folded state: the same rule as the
 * query API (`entitledAt`: ACTIVE/TRIAL until expiresAt, GRACE_PERIOD until its end) with the reason spelled
 * out for the person reading the page.
 */
import type { SubscriptionState } from '../generated/avro';
import { entitledAt } from '../state/fold';

export interface Explanation {
  entitled: boolean;
  why: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

const NOT_ENTITLED: Record<string, string> = {
  EXPIRED: 'the subscription expired',
  REVOKED: 'access was revoked (family sharing removed or the purchase revoked)',
  REFUNDED: 'the purchase was refunded',
  BILLING_RETRY: 'the last renewal payment failed and the store is retrying billing (no grace period)',
  PAUSED: 'the subscription is paused',
  PENDING: 'the purchase is pending (payment not completed yet)',
};

export function explainEntitlement(s: SubscriptionState, now: number): Explanation {
  const last = `last event ${s.lastEventType} at ${iso(s.lastEventAt)}`;
  if (entitledAt(s, now)) {
    const until =
      s.status === 'GRACE_PERIOD' ? (s.gracePeriodExpiresAt ?? s.expiresAt) : (s.expiresAt ?? null);
    const what = s.status === 'GRACE_PERIOD' ? 'in the billing grace period' : `status ${s.status}`;
    return {
      entitled: true,
      why: `Entitled: ${what}${until === null ? ' with no end date' : ` until ${iso(until)}`} (${last}).`,
    };
  }
  if (s.entitled) {
    // The fold said entitled, but the period (or grace) it granted has ended with no renewal since.
    const end = s.status === 'GRACE_PERIOD' ? s.gracePeriodExpiresAt : s.expiresAt;
    return {
      entitled: false,
      why: `Not entitled: the ${s.status === 'GRACE_PERIOD' ? 'grace period' : 'period'} ended at ${iso(end ?? now)} and no renewal has arrived since (${last}).`,
    };
  }
  const because = NOT_ENTITLED[s.status] ?? `the status is ${s.status}`;
  return { entitled: false, why: `Not entitled: ${because} (${last}).` };
}
