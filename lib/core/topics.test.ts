import { TOPICS, TopicNames, type TopicId } from './topics';

describe('topic catalog', () => {
  const ids = Object.keys(TOPICS) as TopicId[];

  it('names every dead-letter topic after an entry of the catalog', () => {
    const dlqs = ids.map((id) => (TOPICS[id] as { dlq?: string }).dlq).filter((d) => d !== undefined);
    expect(dlqs.length).toBeGreaterThan(0);
    expect(ids).toEqual(expect.arrayContaining(dlqs));
  });

  it('compacts the state topic and keeps the canonical topic forever (rebuild replays it)', () => {
    expect(TOPICS.subscriptionState.config['cleanup.policy']).toBe('compact');
    expect(TOPICS.subscriptionEvents.config['retention.ms']).toBe('-1');
  });

  it('applies the prefix to names, subjects and dead-letter topics', () => {
    const t = new TopicNames('test-1.');
    expect(t.name('subscriptionEvents')).toBe('test-1.storeline.subscription-events.v1');
    expect(t.subject('subscriptionEvents')).toBe('test-1.storeline.subscription-events.v1-value');
    expect(t.dlqOf('rawAppStore')).toBe('test-1.storeline.raw.app-store.v1.dlq');
    expect(t.dlqOf('subscriptionState')).toBeUndefined();
  });

  it('has unique topic names', () => {
    const names = ids.map((id) => TOPICS[id].name);
    expect(new Set(names).size).toBe(names.length);
  });
});
