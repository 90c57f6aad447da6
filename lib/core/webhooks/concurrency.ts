/**
 * Adaptive concurrency per endpoint (AIMD with a latency floor), pure: how many attempts an endpoint may
 * have in flight follows how it answers, up to its configured `maxConcurrency` (the ceiling).
 *
 * - Grows while the endpoint answers successfully near its latency floor and the limit is actually used:
 *   +1 per success at first (doubling per round trip, like TCP slow start), +1/limit per success after the
 *   first decrease (about +1 per round trip).
 * - Halves on overload signals: 5xx, 408, 429, timeouts and network errors — at most once per round trip
 *   (only an attempt started after the last decrease counts, so one burst of failures halves once).
 * - Holds when answers are slow (above `tolerance` × floor + `slackMs`): queueing at the endpoint.
 * - Other answers (4xx, 410, refused) say nothing about load and change nothing.
 * The floor is the lowest latency seen, drifting up slowly towards newer samples so an endpoint that
 * became slower for good is measured against its new self.
 */
import type { AttemptResult } from './policy';

export interface ConcurrencyTuning {
  /** Limit of an endpoint seen for the first time (capped by its ceiling). */
  initial: number;
  /** A success counts as fast below tolerance × floor + slackMs. */
  tolerance: number;
  slackMs: number;
  /** Share of the gap to a slower sample the floor moves up by, per success. */
  floorDrift: number;
}

export const DEFAULT_CONCURRENCY: ConcurrencyTuning = {
  initial: 4,
  tolerance: 2,
  slackMs: 10,
  floorDrift: 0.002,
};

export interface Limiter {
  /** Fractional: additive increase adds less than 1 per success. */
  limit: number;
  floorMs: number | undefined;
  slowStart: boolean;
  /** When the limit was last halved (attempts started before then do not halve it again). */
  decreasedAt: number;
}

export type Signal = 'ok' | 'overload' | 'neutral';

export function signalOf(result: AttemptResult): Signal {
  switch (result.kind) {
    case 'timeout':
    case 'network':
      return 'overload';
    case 'refused':
      return 'neutral';
    case 'response': {
      const s = result.status;
      if (s >= 200 && s < 300) return 'ok';
      return s >= 500 || s === 408 || s === 429 ? 'overload' : 'neutral';
    }
  }
}

export function newLimiter(ceiling: number, tuning: ConcurrencyTuning = DEFAULT_CONCURRENCY): Limiter {
  return {
    limit: Math.max(1, Math.min(ceiling, tuning.initial)),
    floorMs: undefined,
    slowStart: true,
    decreasedAt: -Infinity,
  };
}

/** Attempts the endpoint may have in flight now: the limit, whole, within [1, ceiling]. */
export function allowance(l: Limiter, ceiling: number): number {
  return Math.max(1, Math.min(ceiling, Math.floor(l.limit)));
}

export interface Observation {
  signal: Signal;
  latencyMs: number;
  startedAt: number;
  /** When the attempt ended. */
  at: number;
  /** Attempts of the endpoint in flight when this one ended (itself included). */
  inFlight: number;
}

/** The limiter after one attempt of its endpoint ended. */
export function observe(
  l: Limiter,
  o: Observation,
  ceiling: number,
  tuning: ConcurrencyTuning = DEFAULT_CONCURRENCY,
): Limiter {
  const limit = Math.min(l.limit, ceiling);
  if (o.signal === 'overload') {
    if (o.startedAt < l.decreasedAt) return { ...l, limit };
    return { ...l, limit: Math.max(1, limit / 2), slowStart: false, decreasedAt: o.at };
  }
  if (o.signal === 'neutral') return { ...l, limit };
  const floorMs =
    l.floorMs === undefined || o.latencyMs <= l.floorMs
      ? o.latencyMs
      : l.floorMs + (o.latencyMs - l.floorMs) * tuning.floorDrift;
  const fast = o.latencyMs <= floorMs * tuning.tolerance + tuning.slackMs;
  // Only a limit in use is evidence that more would be answered as fast: an idle endpoint keeps its limit.
  const used = o.inFlight * 2 >= limit;
  if (!fast || !used) return { ...l, limit, floorMs };
  const grown = l.slowStart ? limit + 1 : limit + 1 / limit;
  return { ...l, limit: Math.min(ceiling, grown), floorMs };
}
