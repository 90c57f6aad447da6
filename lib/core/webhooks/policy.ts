/**
 * What happens after an attempt: pure functions of the response, the attempt count, the schedule and now.
 * Follows Standard Webhooks' guidance: 2xx succeeds; 410 disables the endpoint; 408, 429, 5xx, timeouts and
 * network errors are retried with backoff, honouring Retry-After; any other status (3xx included) fails
 * for good.
 */
export type AttemptResult =
  | { kind: 'response'; status: number; retryAfter?: string | undefined }
  | { kind: 'timeout' }
  | { kind: 'network'; error: string }
  | { kind: 'refused'; error: string };

type Outcome = 'success' | 'retry' | 'gone' | 'rejected' | 'refused' | 'exhausted';

export interface RetryPolicy {
  /** Delays before the 2nd, 3rd, ... attempt (ms). Its length + 1 is the number of attempts. */
  scheduleMs: readonly number[];
  /** Spread of each delay: 0.2 means ±20 %. */
  jitter: number;
  /** Retry-After values beyond this are capped (ms). */
  maxRetryAfterMs: number;
}

export type Next =
  | { delivery: 'succeeded'; outcome: 'success' }
  | { delivery: 'retry'; outcome: 'retry'; at: number }
  | { delivery: 'failed'; outcome: Exclude<Outcome, 'success' | 'retry'>; reason: string };

/** Parses Retry-After (delta-seconds or HTTP-date) into milliseconds from `now`. */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function describe(result: AttemptResult): string {
  switch (result.kind) {
    case 'response':
      return `HTTP ${result.status}`;
    case 'timeout':
      return 'timed out';
    case 'network':
    case 'refused':
      return result.error;
  }
}

function retriable(result: AttemptResult): boolean {
  if (result.kind === 'timeout' || result.kind === 'network') return true;
  if (result.kind === 'refused') return false;
  return result.status === 408 || result.status === 429 || result.status >= 500;
}

/**
 * `attempt` is the 1-based number of the attempt that produced `result`.
 * `random` in [0, 1) drives the jitter (injected so tests are exact).
 */
export function nextStep(
  result: AttemptResult,
  attempt: number,
  policy: RetryPolicy,
  now: number,
  random: () => number = Math.random,
): Next {
  if (result.kind === 'response' && result.status >= 200 && result.status < 300) {
    return { delivery: 'succeeded', outcome: 'success' };
  }
  if (result.kind === 'response' && result.status === 410) {
    return { delivery: 'failed', outcome: 'gone', reason: 'endpoint answered 410 Gone' };
  }
  if (result.kind === 'refused') return { delivery: 'failed', outcome: 'refused', reason: result.error };
  if (!retriable(result)) {
    return { delivery: 'failed', outcome: 'rejected', reason: `${describe(result)} is not retried` };
  }
  const base = policy.scheduleMs[attempt - 1];
  if (base === undefined) {
    return {
      delivery: 'failed',
      outcome: 'exhausted',
      reason: `${describe(result)} on attempt ${attempt}, the last one`,
    };
  }
  const jittered = Math.round(base * (1 - policy.jitter + 2 * policy.jitter * random()));
  const hinted = result.kind === 'response' ? retryAfterMs(result.retryAfter, now) : undefined;
  const delay = Math.max(jittered, Math.min(hinted ?? 0, policy.maxRetryAfterMs));
  return { delivery: 'retry', outcome: 'retry', at: now + delay };
}

/**
 * Endpoint health after an attempt: failing since the first failure after the last success; disabled once
 * it has failed without a single success for `disableAfterMs`.
 */
export function endpointHealth(
  failingSince: number | null,
  succeeded: boolean,
  now: number,
  disableAfterMs: number,
): { failingSince: number | null; disable: boolean } {
  if (succeeded) return { failingSince: null, disable: false };
  const since = failingSince ?? now;
  return { failingSince: since, disable: now - since >= disableAfterMs };
}

/** Parses "5s,5m,30m,2h" (or plain milliseconds) into milliseconds. */
export function parseDurations(list: string): number[] | string {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const out: number[] = [];
  for (const part of list.split(',').map((p) => p.trim())) {
    const m = /^(\d+)(ms|s|m|h|d)?$/.exec(part);
    if (!m) return `"${part}" is not a duration like 500ms, 5s, 5m, 2h or 1d`;
    out.push(Number(m[1]) * units[m[2] ?? 'ms']!);
  }
  return out;
}
