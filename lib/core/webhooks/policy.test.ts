import { endpointHealth, nextStep, parseDurations, retryAfterMs, type RetryPolicy } from './policy';

const policy: RetryPolicy = {
  scheduleMs: [5_000, 300_000, 1_800_000],
  jitter: 0.2,
  maxRetryAfterMs: 86_400_000,
};
const now = 1_800_000_000_000;
const mid = () => 0.5; // no jitter

describe('delivery policy', () => {
  it('2xx succeeds', () => {
    for (const status of [200, 201, 204, 299]) {
      expect(nextStep({ kind: 'response', status }, 1, policy, now, mid).delivery).toBe('succeeded');
    }
  });

  it('retries 5xx, 429, 408, timeouts and network errors on the schedule', () => {
    for (const r of [
      { kind: 'response', status: 500 },
      { kind: 'response', status: 503 },
      { kind: 'response', status: 429 },
      { kind: 'response', status: 408 },
      { kind: 'timeout' },
      { kind: 'network', error: 'ECONNREFUSED' },
    ] as const) {
      expect(nextStep(r, 1, policy, now, mid)).toEqual({
        delivery: 'retry',
        outcome: 'retry',
        at: now + 5_000,
      });
      expect(nextStep(r, 2, policy, now, mid)).toEqual({
        delivery: 'retry',
        outcome: 'retry',
        at: now + 300_000,
      });
    }
  });

  it('fails for good after the last scheduled attempt', () => {
    expect(nextStep({ kind: 'response', status: 500 }, 4, policy, now, mid)).toMatchObject({
      delivery: 'failed',
      outcome: 'exhausted',
    });
  });

  it('410 means gone; other 3xx and 4xx fail without retry; refused targets fail', () => {
    expect(nextStep({ kind: 'response', status: 410 }, 1, policy, now, mid)).toMatchObject({
      outcome: 'gone',
    });
    for (const status of [301, 302, 400, 401, 403, 404, 422]) {
      expect(nextStep({ kind: 'response', status }, 1, policy, now, mid)).toMatchObject({
        delivery: 'failed',
        outcome: 'rejected',
      });
    }
    expect(nextStep({ kind: 'refused', error: 'private' }, 1, policy, now, mid)).toMatchObject({
      outcome: 'refused',
    });
  });

  it('jitters within ±jitter of the scheduled delay', () => {
    const low = nextStep({ kind: 'timeout' }, 1, policy, now, () => 0);
    const high = nextStep({ kind: 'timeout' }, 1, policy, now, () => 0.999999);
    expect(low).toMatchObject({ at: now + 4_000 });
    expect(high).toMatchObject({ at: now + 6_000 });
  });

  it('honours Retry-After when later than the schedule, capped', () => {
    expect(nextStep({ kind: 'response', status: 429, retryAfter: '120' }, 1, policy, now, mid)).toMatchObject(
      {
        at: now + 120_000,
      },
    );
    // Sooner than the schedule: the schedule wins (Retry-After is a lower bound).
    expect(nextStep({ kind: 'response', status: 503, retryAfter: '1' }, 1, policy, now, mid)).toMatchObject({
      at: now + 5_000,
    });
    expect(
      nextStep({ kind: 'response', status: 503, retryAfter: '999999999' }, 1, policy, now, mid),
    ).toMatchObject({ at: now + 86_400_000 });
    const date = new Date(now + 600_000).toUTCString();
    expect(retryAfterMs(date, now)).toBe(600_000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });

  it('disables an endpoint only after failing without success for the whole span', () => {
    const day = 86_400_000;
    expect(endpointHealth(null, false, now, 5 * day)).toEqual({ failingSince: now, disable: false });
    expect(endpointHealth(now - 4 * day, false, now, 5 * day)).toEqual({
      failingSince: now - 4 * day,
      disable: false,
    });
    expect(endpointHealth(now - 5 * day, false, now, 5 * day)).toEqual({
      failingSince: now - 5 * day,
      disable: true,
    });
    expect(endpointHealth(now - 9 * day, true, now, 5 * day)).toEqual({ failingSince: null, disable: false });
  });

  it('parses schedules', () => {
    expect(parseDurations('5s, 5m,2h,1d,250ms,10')).toEqual([5_000, 300_000, 7_200_000, 86_400_000, 250, 10]);
    expect(parseDurations('5 minutes')).toMatch(/not a duration/);
  });
});
