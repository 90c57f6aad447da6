import fc from 'fast-check';
import { sampleEvent } from '../../../test/kit/builders/events';
import type { EngagementTrigger, EventType, SubscriptionEvent } from '../generated/avro';
import { decideBatch, type StoredTrigger } from './batch';
import { decide, type CancelTarget, type Decision } from './decide';
import { Rules } from './rules';

const NOW = 1_770_000_000_000;
const DAY = 86_400_000;

/** The outbox as the store keeps it: id -> row (what both models below end with). */
type Table = Map<string, StoredTrigger | (Omit<StoredTrigger, 'status'> & { status: 'cancelled' })>;

const matches = (r: { kind: string; subscriptionKey: string; appUserId: string | null }, t: CancelTarget) =>
  t.kinds.includes(r.kind as never) &&
  (r.subscriptionKey === t.subscriptionKey || (t.scope === 'user' && r.appUserId === t.appUserId));

function cancelIn(table: Table, t: CancelTarget): void {
  for (const [id, r] of table)
    if (r.status === 'pending' && matches(r, t)) table.set(id, { ...r, status: 'cancelled' });
}

const rowOf = (t: EngagementTrigger, status: 'pending' | 'cancelled') => ({
  triggerId: t.triggerId,
  kind: t.kind,
  subscriptionKey: t.subscriptionKey,
  appUserId: t.appUserId,
  dueAt: t.dueAt,
  status,
});

/** The per-event path the batch replaces: refund stored, history read, decision applied, event by event. */
function oneByOne(
  events: SubscriptionEvent[],
  table: Table,
  refunds: { user: string; at: number }[],
  rules: Rules,
) {
  const seen = new Set<string>();
  const decisions: Decision[] = [];
  for (const e of events) {
    if (seen.has(e.eventId)) continue;
    seen.add(e.eventId);
    if (e.type === 'REFUNDED' && e.appUserId) refunds.push({ user: e.appUserId, at: e.occurredAt });
    const since = e.occurredAt - rules.refundAbuseSuspected.windowDays * DAY;
    const userRefunds = e.appUserId
      ? refunds.filter((r) => r.user === e.appUserId && r.at > since).length
      : 0;
    const recent = [...table.values()]
      .filter(
        (r) =>
          r.status !== 'cancelled' &&
          r.dueAt > NOW - 365 * DAY &&
          (e.appUserId !== null ? r.appUserId === e.appUserId : r.subscriptionKey === e.subscriptionKey),
      )
      .map((r) => ({ kind: r.kind, at: r.dueAt }));
    const d = decide(e, { userRefunds, recent }, NOW, rules);
    decisions.push(d);
    for (const t of d.cancel) cancelIn(table, t);
    for (const t of [...d.emit, ...d.schedule])
      if (!table.has(t.triggerId)) table.set(t.triggerId, rowOf(t, 'pending'));
  }
  return decisions;
}

const TYPES: EventType[] = [
  'SUBSCRIPTION_STARTED',
  'RENEWED',
  'EXPIRED',
  'AUTO_RENEW_DISABLED',
  'REFUNDED',
  'PRICE_INCREASE_PENDING',
  'PRICE_INCREASE_ACCEPTED',
  'GRACE_PERIOD_STARTED',
];

const eventArb = fc
  .record({
    n: fc.integer({ min: 0, max: 12 }),
    type: fc.constantFrom(...TYPES),
    sub: fc.constantFrom('s1', 's2', 's3'),
    user: fc.constantFrom(null, 'u1', 'u2'),
    ageDays: fc.integer({ min: 0, max: 200 }),
  })
  .map(({ n, type, sub, user, ageDays }) =>
    sampleEvent({
      eventId: `e${n}`,
      type,
      subscriptionKey: sub,
      appUserId: user,
      environment: 'PRODUCTION',
      reason: type === 'EXPIRED' ? 'VOLUNTARY' : null,
      occurredAt: NOW - ageDays * DAY,
      purchasedAt: NOW - (ageDays + 3) * DAY,
      expiresAt: NOW + 30 * DAY,
    }),
  );

const storedArb = fc.array(
  fc.record({
    triggerId: fc.uuid(),
    kind: fc.constantFrom('WINBACK_OFFER', 'CANCELLATION_SAVE_OFFER', 'WELCOME', 'RENEWAL_THANKS' as const),
    subscriptionKey: fc.constantFrom('s1', 's2', 's3', 's4'),
    appUserId: fc.constantFrom(null, 'u1', 'u2'),
    dueAt: fc.integer({ min: NOW - 400 * DAY, max: NOW + 10 * DAY }),
    status: fc.constantFrom('pending', 'sent' as const),
  }),
  { maxLength: 8 },
);

const rulesArb = fc
  .record({
    winbackScope: fc.constantFrom('user', 'subscription' as const),
    saveScope: fc.constantFrom('user', 'subscription' as const),
    cap: fc.integer({ min: 1, max: 2 }),
  })
  .map(({ winbackScope, saveScope, cap }) =>
    Rules.parse({
      winbackOffer: { cancelScope: winbackScope },
      cancellationSaveOffer: { delaySeconds: 3600, cancelScope: saveScope },
      refundAbuseSuspected: { maxRefundsPerUser: 2 },
      frequencyCaps: { RENEWAL_THANKS: { max: cap, windowSeconds: 30 * 86_400 } },
    }),
  );

describe('decideBatch', () => {
  it('decides and writes exactly what deciding event by event does', () => {
    fc.assert(
      fc.property(
        fc.array(eventArb, { maxLength: 15 }),
        storedArb,
        fc.array(
          fc.record({ user: fc.constantFrom('u1', 'u2'), ageDays: fc.integer({ min: 0, max: 200 }) }),
          {
            maxLength: 3,
          },
        ),
        rulesArb,
        (events, stored, storedRefundList, rules) => {
          const storedRefunds = storedRefundList.map((r) => ({ user: r.user, at: NOW - r.ageDays * DAY }));
          const expectedTable: Table = new Map(stored.map((s) => [s.triggerId, { ...s }]));
          const expected = oneByOne(events, expectedTable, [...storedRefunds], rules);

          // The batch: deduplicated events, refunds stored before the batch counted per event, then the
          // adapter's one write (cancel the stored rows, insert the new ones with their status).
          const fresh = events.filter((e, i) => events.findIndex((x) => x.eventId === e.eventId) === i);
          const items = fresh.map((event) => {
            const since = event.occurredAt - rules.refundAbuseSuspected.windowDays * DAY;
            const n = storedRefunds.filter((r) => r.user === event.appUserId && r.at > since).length;
            return { event, storedRefunds: event.appUserId ? n : 0, now: NOW };
          });
          const result = decideBatch(items, stored, rules);
          const table: Table = new Map(stored.map((s) => [s.triggerId, { ...s }]));
          for (const t of result.cancel) cancelIn(table, t);
          for (const i of result.inserts)
            if (!table.has(i.trigger.triggerId)) table.set(i.trigger.triggerId, rowOf(i.trigger, i.status));

          expect(result.decisions).toEqual(expected);
          expect(table).toEqual(expectedTable);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a win-back scheduled and then cancelled in the same batch is written cancelled', () => {
    const rules = Rules.parse({});
    const expired = sampleEvent({
      eventId: 'a',
      type: 'EXPIRED',
      reason: 'VOLUNTARY',
      environment: 'PRODUCTION',
    });
    const renewed = sampleEvent({ eventId: 'b', type: 'RENEWED', environment: 'PRODUCTION' });
    const r = decideBatch(
      [expired, renewed].map((event) => ({ event, storedRefunds: 0, now: NOW })),
      [],
      rules,
    );
    expect(r.inserts.map((i) => [i.trigger.kind, i.status])).toEqual([
      ['WINBACK_OFFER', 'cancelled'],
      ['RENEWAL_THANKS', 'pending'],
    ]);
  });
});
