import { createRequire } from 'node:module';
import { applyKafkaIdleFix, scheduleCheckPendingRequests } from './kafkaIdleFix';

function queue(pending: unknown[], throttledUntil = -1) {
  return {
    pending,
    throttledUntil,
    throttleCheckTimeoutId: null as NodeJS.Timeout | null,
    checkPendingRequests: jest.fn(),
    scheduleCheckPendingRequests,
  };
}

describe('kafkajs request queue idle fix', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('sets no timer when nothing is pending (kafkajs 2.2.4 loops every 1 ms here)', () => {
    const q = queue([]);
    q.scheduleCheckPendingRequests();
    expect(q.throttleCheckTimeoutId).toBeNull();
    jest.advanceTimersByTime(1000);
    expect(q.checkPendingRequests).not.toHaveBeenCalled();
  });

  it('checks a pending request after 10 ms, or when the throttle ends', () => {
    const q = queue([{}]);
    q.scheduleCheckPendingRequests();
    jest.advanceTimersByTime(9);
    expect(q.checkPendingRequests).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(q.checkPendingRequests).toHaveBeenCalledTimes(1);

    const throttled = queue([{}], Date.now() + 50);
    throttled.scheduleCheckPendingRequests();
    jest.advanceTimersByTime(49);
    expect(throttled.checkPendingRequests).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(throttled.checkPendingRequests).toHaveBeenCalledTimes(1);
  });

  it('keeps one timer at a time', () => {
    const q = queue([{}]);
    q.scheduleCheckPendingRequests();
    q.scheduleCheckPendingRequests();
    jest.advanceTimersByTime(10);
    expect(q.checkPendingRequests).toHaveBeenCalledTimes(1);
  });

  it('replaces kafkajs 2.2.4 RequestQueue scheduling', () => {
    expect(applyKafkaIdleFix()).toBe(true);
    const RequestQueue = createRequire(__filename)('kafkajs/src/network/requestQueue') as {
      prototype: { scheduleCheckPendingRequests: unknown };
    };
    expect(RequestQueue.prototype.scheduleCheckPendingRequests).toBe(scheduleCheckPendingRequests);
  });
});
