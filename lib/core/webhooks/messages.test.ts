import type { SubscriptionEvent } from '../generated/avro';
import { fromEvent, isTypePattern, matches, supersededMessageIds } from './messages';

const event = {
  eventId: 'app_store:n1:0',
  type: 'RENEWED',
  environment: 'PRODUCTION',
  appId: 'com.example.app',
  subscriptionKey: 'app_store:100',
  occurredAt: Date.UTC(2026, 10, 22, 10),
  revision: 0,
  retracted: false,
} as SubscriptionEvent;

describe('webhook messages', () => {
  it('wraps the canonical event as Standard Webhooks {type, timestamp, data}', () => {
    const m = fromEvent(event);
    expect(m).toMatchObject({
      id: 'app_store:n1:0',
      type: 'subscription.RENEWED',
      environment: 'PRODUCTION',
    });
    expect(JSON.parse(m.body)).toEqual({
      type: 'subscription.RENEWED',
      timestamp: '2026-11-22T10:00:00.000Z',
      data: event,
    });
  });

  it('gives a correction a message id of its own and names the revisions it supersedes', () => {
    const corrected = { ...event, type: 'EXPIRED', revision: 2 } as SubscriptionEvent;
    const m = fromEvent(corrected);
    expect(m).toMatchObject({ id: 'app_store:n1:0#r2', type: 'subscription.EXPIRED' });
    expect(JSON.parse(m.body).data).toMatchObject({ eventId: 'app_store:n1:0', revision: 2 });
    expect(supersededMessageIds(corrected)).toEqual(['app_store:n1:0', 'app_store:n1:0#r1']);
    expect(supersededMessageIds(event)).toEqual([]);
  });

  it('filters by type (exact or namespace), environment and app; null means any', () => {
    const m = fromEvent(event);
    const any = { eventTypes: null, environments: null, appIds: null };
    expect(matches(any, m)).toBe(true);
    expect(matches({ ...any, eventTypes: ['subscription.RENEWED'] }, m)).toBe(true);
    expect(matches({ ...any, eventTypes: ['subscription.*'] }, m)).toBe(true);
    expect(matches({ ...any, eventTypes: ['trigger.*', 'subscription.EXPIRED'] }, m)).toBe(false);
    expect(matches({ ...any, environments: ['SANDBOX'] }, m)).toBe(false);
    expect(matches({ ...any, appIds: ['com.example.app', 'x'] }, m)).toBe(true);
    expect(matches({ ...any, appIds: ['x'] }, m)).toBe(false);
  });

  it('accepts known types and namespace wildcards only', () => {
    expect(isTypePattern('subscription.EXPIRED')).toBe(true);
    expect(isTypePattern('trigger.WINBACK_OFFER')).toBe(true);
    expect(isTypePattern('trigger.*')).toBe(true);
    expect(isTypePattern('subscription.expired')).toBe(false);
    expect(isTypePattern('*')).toBe(false);
  });
});
