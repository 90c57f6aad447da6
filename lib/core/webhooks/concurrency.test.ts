import {
  allowance,
  DEFAULT_CONCURRENCY,
  newLimiter,
  observe,
  signalOf,
  type Limiter,
  type Observation,
} from './concurrency';

const ok = (over: Partial<Observation> = {}): Observation => ({
  signal: 'ok',
  latencyMs: 50,
  startedAt: 0,
  at: 50,
  inFlight: 100,
  ...over,
});

/** Feeds `n` observations made by `make(i)` and returns the limiter after them. */
function feed(l: Limiter, n: number, make: (i: number) => Observation, ceiling: number): Limiter {
  let cur = l;
  for (let i = 0; i < n; i++) cur = observe(cur, make(i), ceiling);
  return cur;
}

describe('signalOf', () => {
  it.each([
    [{ kind: 'response', status: 200 } as const, 'ok'],
    [{ kind: 'response', status: 204 } as const, 'ok'],
    [{ kind: 'response', status: 500 } as const, 'overload'],
    [{ kind: 'response', status: 503 } as const, 'overload'],
    [{ kind: 'response', status: 429 } as const, 'overload'],
    [{ kind: 'response', status: 408 } as const, 'overload'],
    [{ kind: 'timeout' } as const, 'overload'],
    [{ kind: 'network', error: 'ECONNRESET' } as const, 'overload'],
    [{ kind: 'response', status: 400 } as const, 'neutral'],
    [{ kind: 'response', status: 410 } as const, 'neutral'],
    [{ kind: 'response', status: 301 } as const, 'neutral'],
    [{ kind: 'refused', error: 'private address' } as const, 'neutral'],
  ])('%j is %s', (result, signal) => expect(signalOf(result)).toBe(signal));
});

describe('adaptive concurrency', () => {
  it('starts at the initial limit, never above the ceiling', () => {
    expect(allowance(newLimiter(64), 64)).toBe(DEFAULT_CONCURRENCY.initial);
    expect(allowance(newLimiter(2), 2)).toBe(2);
  });

  it('grows while fast successes use the limit, up to the ceiling and no further', () => {
    const l = feed(newLimiter(64), 1000, () => ok(), 64);
    expect(allowance(l, 64)).toBe(64);
    expect(l.limit).toBe(64);
  });

  it('doubles per round trip at first: from 4 to the ceiling of 64 in 60 successes', () => {
    expect(
      allowance(
        feed(newLimiter(64), 59, () => ok(), 64),
        64,
      ),
    ).toBe(63);
    expect(
      allowance(
        feed(newLimiter(64), 60, () => ok(), 64),
        64,
      ),
    ).toBe(64);
  });

  it('halves on overload, once per round trip, never below 1', () => {
    const grown = feed(newLimiter(64), 28, () => ok(), 64);
    expect(allowance(grown, 64)).toBe(32);
    const once = observe(grown, ok({ signal: 'overload', startedAt: 1000, at: 1100 }), 64);
    expect(allowance(once, 64)).toBe(16);
    // Attempts of the same burst (started before the decrease) do not halve it again.
    const same = observe(once, ok({ signal: 'overload', startedAt: 1050, at: 1101 }), 64);
    expect(allowance(same, 64)).toBe(16);
    // A timeout of an attempt started after it does.
    const next = observe(same, ok({ signal: 'overload', startedAt: 1101, at: 16_101 }), 64);
    expect(allowance(next, 64)).toBe(8);
    const dead = feed(
      next,
      10,
      (i) => ok({ signal: 'overload', startedAt: 20_000 + i * 2, at: 20_001 + i * 2 }),
      64,
    );
    expect(allowance(dead, 64)).toBe(1);
  });

  it('after a decrease grows by about one per limit successes', () => {
    const halved = observe(
      feed(newLimiter(64), 12, () => ok(), 64),
      ok({ signal: 'overload' }),
      64,
    );
    expect(allowance(halved, 64)).toBe(8);
    expect(
      allowance(
        feed(halved, 9, () => ok({ startedAt: 100 }), 64),
        64,
      ),
    ).toBe(9);
    expect(
      allowance(
        feed(halved, 8, () => ok({ startedAt: 100 }), 64),
        64,
      ),
    ).toBe(8);
  });

  it('holds when answers get slow (queueing at the endpoint), and grows again when they are fast', () => {
    const start = feed(newLimiter(64), 4, () => ok(), 64);
    const slow = feed(start, 100, () => ok({ latencyMs: 400 }), 64);
    expect(slow.limit).toBe(start.limit);
    expect(feed(slow, 1, () => ok({ latencyMs: 50 }), 64).limit).toBe(start.limit + 1);
  });

  it('does not grow an idle limit: only a limit in use is evidence', () => {
    const l = feed(newLimiter(64), 100, () => ok({ inFlight: 1 }), 64);
    expect(allowance(l, 64)).toBe(DEFAULT_CONCURRENCY.initial);
  });

  it('changes nothing on answers that say nothing about load', () => {
    const l = feed(newLimiter(64), 6, () => ok(), 64);
    for (const signal of ['neutral'] as const) expect(observe(l, ok({ signal }), 64)).toEqual(l);
  });

  it('moves its floor up towards an endpoint that became slower for good', () => {
    const fast = feed(newLimiter(64), 10, () => ok({ latencyMs: 20, inFlight: 1 }), 64);
    expect(fast.floorMs).toBe(20);
    const slower = feed(fast, 3000, () => ok({ latencyMs: 200, inFlight: 1 }), 64);
    expect(slower.floorMs).toBeGreaterThan(190);
    // Now 200 ms is its normal: it grows again at that latency.
    expect(observe(slower, ok({ latencyMs: 200 }), 64).limit).toBeGreaterThan(slower.limit);
  });

  it('follows a lowered ceiling at once', () => {
    const l = feed(newLimiter(64), 60, () => ok(), 64);
    expect(allowance(l, 10)).toBe(10);
    expect(observe(l, ok({ signal: 'neutral' }), 10).limit).toBe(10);
  });

  it('a simulated 50 ms endpoint that fails above 40 in flight settles near its capacity', () => {
    // Closed loop: every attempt takes 50 ms; the endpoint answers 503 when more than 40 are in flight.
    let l = newLimiter(64);
    let t = 0;
    const limits: number[] = [];
    for (let round = 0; round < 200; round++) {
      const n = allowance(l, 64);
      const status = n > 40 ? 503 : 200;
      for (let i = 0; i < n; i++) {
        const signal = signalOf({ kind: 'response', status });
        l = observe(l, { signal, latencyMs: 50, startedAt: t, at: t + 50, inFlight: n - i }, 64);
      }
      t += 50;
      limits.push(allowance(l, 64));
    }
    const late = limits.slice(100);
    expect(Math.min(...late)).toBeGreaterThanOrEqual(20);
    expect(Math.max(...late)).toBeLessThanOrEqual(41);
  });
});
