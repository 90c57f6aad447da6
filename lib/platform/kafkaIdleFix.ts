/**
 * kafkajs 2.2.4 keeps every broker connection's request queue in a 1 ms timer loop once it has answered a
 * request: `checkPendingRequests` always calls `scheduleCheckPendingRequests`, which with nothing pending and
 * no throttle computes a negative delay (`throttledUntil` is -1) and sets a timer that Node runs after 1 ms,
 * which checks again, forever. Measured here: an idle state aggregator woke ~1,660 times a second (strace)
 * and spent ~44 CPU-ms per second on its main thread; every service has several such connections.
 * Reported upstream as https://github.com/tulios/kafkajs/issues/1556 and /1704; the fix proposed in
 * https://github.com/tulios/kafkajs/pull/1667 is not released (2.2.4 is the latest kafkajs).
 *
 * This applies that fix to the class: schedule a check only while requests are pending. Nothing else
 * depends on the loop: `push` schedules a check when it queues a request, and every answer or timeout calls
 * `checkPendingRequests` itself. Applied once, on import, and only to the version it was written for.
 */
import { createRequire } from 'node:module';

const FIXED_VERSION = '2.2.4';
/** kafkajs' own interval for re-checking a queue that is waiting on in-flight requests. */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** The fixed scheduler, exported for its unit test. */
export function scheduleCheckPendingRequests(this: RequestQueueInternals): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const untilThrottleEnds = this.throttledUntil - Date.now();
  const delay = untilThrottleEnds > 0 ? untilThrottleEnds : CHECK_PENDING_REQUESTS_INTERVAL_MS;
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, delay);
}

/** True when the fix is in place (false for another kafkajs version, whose code this was not written for). */
export function applyKafkaIdleFix(): boolean {
  const require = createRequire(__filename);
  const version = (require('kafkajs/package.json') as { version: string }).version;
  if (version !== FIXED_VERSION) return false;
  const RequestQueue = require('kafkajs/src/network/requestQueue') as {
    prototype: RequestQueueInternals;
  };
  RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  return true;
}
