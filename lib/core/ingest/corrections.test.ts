import type { SubscriptionEvent } from '../generated/avro';
import { correctionsFor, differingFields, latestRevisions } from './corrections';

const base = {
  eventId: 'app_store:n1:0',
  type: 'RENEWED',
  subscriptionKey: 'app_store:1',
  occurredAt: 1_000,
  expiresAt: 2_000,
  price: { amountMicros: 9_990_000, currency: 'USD' },
  revision: 0,
  retracted: false,
} as SubscriptionEvent;
const ev = (over: Partial<SubscriptionEvent>): SubscriptionEvent => ({ ...base, ...over });

describe('correctionsFor', () => {
  it('produces nothing when the mapping gives what the topic holds', () => {
    expect(
      correctionsFor([base, ev({ eventId: 'app_store:n1:1' })], [base, ev({ eventId: 'app_store:n1:1' })]),
    ).toEqual([]);
  });

  it('republishes a changed event with the next revision and names the fields', () => {
    const held = ev({ type: 'EXPIRED', revision: 2 });
    const [c, ...rest] = correctionsFor([base], [held]);
    expect(rest).toEqual([]);
    expect(c).toMatchObject({ kind: 'changed', fields: ['type'], previous: held });
    expect(c!.event).toEqual({ ...base, revision: 3, retracted: false });
  });

  it('compares nested records whole', () => {
    const held = ev({ price: { amountMicros: 9_990_000, currency: 'EUR' } });
    expect(correctionsFor([base], [held]).map((c) => c.fields)).toEqual([['price']]);
  });

  it('adds an event only the new mapping yields, as revision 1 (a correction)', () => {
    const extra = ev({ eventId: 'app_store:n1:1', type: 'AUTO_RENEW_DISABLED' });
    expect(correctionsFor([base, extra], [base])).toEqual([
      { kind: 'added', event: { ...extra, revision: 1 }, fields: [] },
    ]);
  });

  it('retracts an event only the old mapping yielded, keeping its fields', () => {
    const stray = ev({ eventId: 'app_store:n1:1', type: 'REFUNDED', revision: 1 });
    expect(correctionsFor([base], [base, stray])).toEqual([
      { kind: 'retracted', event: { ...stray, revision: 2, retracted: true }, previous: stray, fields: [] },
    ]);
  });

  it('leaves a retraction alone, and restores a retracted event the mapping yields again', () => {
    const gone = ev({ eventId: 'app_store:n1:1', revision: 1, retracted: true });
    expect(correctionsFor([base], [base, gone])).toEqual([]);
    const back = ev({ eventId: 'app_store:n1:1' });
    expect(correctionsFor([base, back], [base, gone])).toEqual([
      { kind: 'added', event: { ...back, revision: 2, retracted: false }, previous: gone, fields: [] },
    ]);
  });
});

describe('differingFields and latestRevisions', () => {
  it('ignores the bookkeeping fields', () => {
    expect(differingFields(base, ev({ revision: 4, retracted: true }))).toEqual([]);
  });

  it('keeps the highest revision of each eventId, whatever the order', () => {
    const r1 = ev({ revision: 1, type: 'EXPIRED' });
    const other = ev({ eventId: 'x' });
    expect([...latestRevisions([r1, base, other]).values()]).toEqual([r1, other]);
  });
});
