/**
 * The guard's linger (batching across time): once per fetch round, after a small batch, never when idle
 * or behind. Driven with a scripted consumer and jest's fake timers.
 */
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { ConsumerGuard, LINGER_BELOW_RECORDS } from './consumerGuard';
import { createLogger } from './logger';

function scriptedConsumer() {
  const listeners = new Map<string, Array<() => void>>();
  const events = { GROUP_JOIN: 'join', STOP: 'stop', CRASH: 'crash', FETCH: 'fetch' };
  const consumer = {
    events,
    on: (event: string, fn: () => void) => listeners.set(event, [...(listeners.get(event) ?? []), fn]),
  };
  const fetched = () => (listeners.get(events.FETCH) ?? []).forEach((fn) => fn());
  return { consumer: consumer as unknown as Consumer, fetched };
}

function payload(records: number): EachBatchPayload {
  const messages = Array.from({ length: records }, (_, i) => ({ offset: String(i) }));
  return {
    batch: { isEmpty: () => records === 0, messages, lastOffset: () => String(records - 1) },
    resolveOffset: () => undefined,
    heartbeat: async () => undefined,
  } as unknown as EachBatchPayload;
}

/** Whether the handler's promise settles without the clock moving. */
async function settlesAtOnce(p: Promise<void>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return done;
}

describe('ConsumerGuard linger', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function guard(lingerMs: number) {
    const { consumer, fetched } = scriptedConsumer();
    const g = new ConsumerGuard({
      kafka: {} as Kafka,
      consumer,
      groupId: 'g',
      component: 'test',
      logger: createLogger('test', 'silent'),
      lingerMs,
    });
    return { handle: g.wrap(async () => undefined, { resolve: true }), fetched };
  }

  it('waits once per fetch round after a small batch, so the next fetch finds more records', async () => {
    const { handle, fetched } = guard(20);
    fetched();
    const first = handle(payload(3));
    expect(await settlesAtOnce(first)).toBe(false);
    jest.advanceTimersByTime(20);
    expect(await settlesAtOnce(first)).toBe(true);
    // The same round's other partitions go on at once.
    expect(await settlesAtOnce(handle(payload(2)))).toBe(true);
    fetched();
    expect(await settlesAtOnce(handle(payload(1)))).toBe(false);
  });

  it('does not wait behind a big batch (the consumer is behind) or when turned off', async () => {
    const behind = guard(20);
    behind.fetched();
    expect(await settlesAtOnce(behind.handle(payload(LINGER_BELOW_RECORDS)))).toBe(true);
    const off = guard(0);
    off.fetched();
    expect(await settlesAtOnce(off.handle(payload(1)))).toBe(true);
  });
});
